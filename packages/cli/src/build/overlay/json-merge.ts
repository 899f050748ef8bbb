// Merges JSON overlays into a JSON file: objects merge key by key, the overlay's value wins, and
// arrays are replaced whole, as for HOCON, so one rule holds for every settings format.
import { BuildInputError } from '../macros.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function isJsonObject(value: unknown): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses JSON text; a syntax error names the line V8 reports (or works it out from the offset). */
export function parseJson(text: string, file: string): Json {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, '')) as Json;
  } catch (error) {
    const message = (error as Error).message;
    const lineMatch = /\(line (\d+) column \d+\)/.exec(message);
    const offset = /position (\d+)/.exec(message);
    const line = lineMatch
      ? Number(lineMatch[1])
      : offset
        ? text.slice(0, Number(offset[1])).split('\n').length
        : undefined;
    const reason = message.replace(/\s*\(line \d+ column \d+\)/, '').replace(/ in JSON at position \d+/, '');
    throw new BuildInputError(file, line, `not valid JSON: ${reason}`);
  }
}

/** Returns `base` with `overlay` merged in; neither argument is changed. */
export function mergeJson(base: Json, overlay: Json): Json {
  if (!isJsonObject(base) || !isJsonObject(overlay)) return overlay;
  const out: { [key: string]: Json } = { ...base };
  for (const [key, value] of Object.entries(overlay)) {
    out[key] = Object.hasOwn(out, key) ? mergeJson(out[key] as Json, value) : value;
  }
  return out;
}

/** Renders merged JSON with the original's indentation and final newline. */
export function renderJson(value: Json, original: string): string {
  const indent = /^\{?\s*\n([ \t]+)\S/.exec(original.replace(/^\uFEFF/, ''))?.[1] ?? '  ';
  const ending = original.endsWith('\n') ? '\n' : '';
  return JSON.stringify(value, null, indent) + ending;
}

export interface JsonSource {
  file: string;
  text: string;
}

/** Merges each overlay over the base in order; a root that is not an object cannot take an overlay. */
export function mergeJsonFiles(base: JsonSource, overlays: JsonSource[]): { text: string; value: Json } {
  let value = parseJson(base.text, base.file);
  if (!isJsonObject(value)) throw new BuildInputError(base.file, 1, 'an overlaid JSON file must hold an object');
  for (const overlay of overlays) {
    const next = parseJson(overlay.text, overlay.file);
    if (!isJsonObject(next)) throw new BuildInputError(overlay.file, 1, 'a JSON overlay must hold an object');
    value = mergeJson(value, next);
  }
  return { text: renderJson(value, base.text), value };
}
