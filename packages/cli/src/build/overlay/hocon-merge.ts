// Merges HOCON overlays by appending them to the original. Typesafe Config reads a key defined
// again later in one file exactly as it merges files (objects merge deeply, later wins, arrays are
// replaced), so the result reads the same while comments, includes and `${?ENV}` stay as written.
import { BuildInputError } from '../macros.ts';
import { parseHocon } from './hocon-parser.ts';

export interface HoconSource {
  file: string;
  text: string;
  /** How the result names this overlay in its header comment. */
  label?: string;
}

/** The text with its root braces (if any) blanked, so that more fields can follow it. */
function body(source: HoconSource): string {
  const { braces } = parseHocon(source.text, source.file);
  if (!braces) return source.text;
  const { open, close } = braces;
  return `${source.text.slice(0, open)} ${source.text.slice(open + 1, close)} ${source.text.slice(close + 1)}`;
}

export function mergeHoconFiles(base: HoconSource, overlays: HoconSource[]): string {
  let out = body(base);
  for (const overlay of overlays) {
    if (!out.endsWith('\n')) out += '\n';
    out += `\n# ---- overlay: ${(overlay.label ?? overlay.file).replace(/[\r\n]/g, '?')} ----\n${body(overlay)}`;
  }
  if (!out.endsWith('\n')) out += '\n';
  try {
    parseHocon(out, base.file);
  } catch (error) {
    // each part parsed alone; a joint failure means an overlay ends mid-value (e.g. an open """)
    const reason = error instanceof BuildInputError ? error.message : String(error);
    throw new BuildInputError(base.file, undefined, `the merged file does not parse: ${reason}`);
  }
  return out;
}
