import { RE2JS } from 're2js';

// Version extraction with Go's RE2 syntax and Regexp.Expand templates, on a linear-time engine
// (user patterns must never be able to backtrack catastrophically).

export class ExtractionError extends Error {
  override name = 'ExtractionError';
}

export interface Extraction {
  regex: { pattern: string; result?: string };
}

/** Longest input a compiled extraction accepts (characters). */
export const maxExtractionInput = 64 * 1024;
/** Longest extracted value (characters). */
export const maxExtractionOutput = 256;
export const maxPatternLength = 1024;
export const maxResultLength = 256;
// RE2 program size bound: keeps `(a{1000}){1000}`-style patterns from costing memory per match.
const maxProgramSize = 20_000;

type Piece = string | { group: number | string };

const nameChar = /[\p{L}\p{N}_]/u;

/** Parses a Go Regexp.Expand template: `$1`, `${1}`, `$name`, `${name}`, `$$`. */
function parseTemplate(template: string, re: RE2JS): Piece[] {
  const groups = re.groupCount();
  const named = re.namedGroups();
  const pieces: Piece[] = [];
  let text = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i] as string;
    if (c !== '$') {
      text += c;
      i++;
      continue;
    }
    const next = template[i + 1];
    if (next === '$') {
      text += '$';
      i += 2;
      continue;
    }
    let name = '';
    let end = i + 1;
    if (next === '{') {
      const close = template.indexOf('}', i + 2);
      name = close < 0 ? '' : template.slice(i + 2, close);
      if (close < 0 || name === '' || ![...name].every((ch) => nameChar.test(ch))) {
        throw new ExtractionError(`result template: malformed \${...} at position ${i + 1} of "${template}"`);
      }
      end = close + 1;
    } else {
      while (end < template.length && nameChar.test(template[end] as string)) end++;
      name = template.slice(i + 1, end);
      if (name === '') {
        text += '$'; // like Go: a `$` that starts no reference is literal text
        i++;
        continue;
      }
    }
    if (/^[0-9]+$/.test(name)) {
      const n = Number(name);
      if (n > groups) {
        throw new ExtractionError(
          `result template: $${name} refers to group ${n} but the pattern has ${groups} group(s)`,
        );
      }
      pieces.push(text, { group: n });
    } else {
      if (!(name in named)) {
        const hint = /^[0-9]/.test(name)
          ? ` ($${name} names a group "${name}"; write \${N} to follow a group number with text)`
          : '';
        throw new ExtractionError(`result template: the pattern has no group named "${name}"${hint}`);
      }
      pieces.push(text, { group: name });
    }
    text = '';
    i = end;
  }
  pieces.push(text);
  return pieces.filter((p) => p !== '');
}

function compilePattern(pattern: string): RE2JS {
  if (typeof pattern !== 'string' || pattern === '') {
    throw new ExtractionError('regex pattern: must be a non-empty string');
  }
  if (pattern.length > maxPatternLength) {
    throw new ExtractionError(`regex pattern: longer than ${maxPatternLength} characters`);
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ExtractionError(`regex pattern "${pattern}" is not valid RE2 syntax: ${why}`);
  }
  if (re.programSize() > maxProgramSize) {
    throw new ExtractionError(`regex pattern "${pattern}" is too large (program size ${re.programSize()})`);
  }
  return re;
}

/**
 * Compiles an extraction to a function from text to the extracted value. The text is trimmed first.
 * No extraction: the trimmed text itself. No match, or an empty result: null. The result template
 * defaults to `$1` when the pattern has a group, else to the whole match.
 */
export function compileExtraction(e: Extraction | undefined): (text: string) => string | null {
  if (e === undefined) return (text) => bounded(checkInput(text).trim()) || null;
  if (!e || typeof e !== 'object' || !e.regex || typeof e.regex !== 'object') {
    throw new ExtractionError('extraction: expected { regex: { pattern, result? } }');
  }
  const { pattern, result } = e.regex;
  const re = compilePattern(pattern);
  if (result !== undefined && typeof result !== 'string') {
    throw new ExtractionError('regex result: must be a string');
  }
  if (result !== undefined && result.length > maxResultLength) {
    throw new ExtractionError(`regex result: longer than ${maxResultLength} characters`);
  }
  const template = result === undefined || result === '' ? (re.groupCount() > 0 ? '$1' : '$0') : result;
  const pieces = parseTemplate(template, re);
  return (text) => {
    const m = re.matcher(checkInput(text).trim());
    if (!m.find()) return null;
    let out = '';
    for (const p of pieces) out += typeof p === 'string' ? p : (m.group(p.group) ?? '');
    return bounded(out.trim()) || null;
  };
}

function checkInput(text: string): string {
  if (typeof text !== 'string') throw new ExtractionError('extraction input: must be a string');
  if (text.length > maxExtractionInput) {
    throw new ExtractionError(`extraction input: ${text.length} characters, limit ${maxExtractionInput}`);
  }
  return text;
}

function bounded(out: string): string {
  if (out.length > maxExtractionOutput) {
    throw new ExtractionError(`extracted value: ${out.length} characters, limit ${maxExtractionOutput}`);
  }
  return out;
}
