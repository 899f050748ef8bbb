// The seed's `faultFilesMatch` is one regular expression over file names; the agent takes globs.
// Only the regular expressions that say the same thing as a list of globs are converted.

const literal = /[A-Za-z0-9_\-,@~=+]/;
const escapable = /[.\-_+()[\]{}^$|?*\\/]/;

function alternative(regex: string, whole: string): string {
  let body = regex;
  const anchoredStart = body.startsWith('^');
  if (anchoredStart) body = body.slice(1);
  const anchoredEnd = body.endsWith('$') && !body.endsWith('\\$');
  if (anchoredEnd) body = body.slice(0, -1);
  let glob = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    const next = body[i + 1];
    if (c === '\\' && next !== undefined && escapable.test(next)) {
      if ('*?[]{}'.includes(next) || next === '/') throw new Error(`"\\${next}" has no glob equivalent`);
      glob += next;
      i++;
    } else if (c === '.' && (next === '*' || next === '+')) {
      glob += next === '*' ? '*' : '?*';
      i++;
    } else if (c === '.') {
      glob += '?';
    } else if (literal.test(c)) {
      glob += c;
    } else {
      throw new Error(`"${c}" at ${i + (anchoredStart ? 1 : 0)} in "${whole}" has no glob equivalent`);
    }
  }
  if (glob === '') throw new Error(`"${whole}" has an empty alternative, which has no glob equivalent`);
  return `${anchoredStart ? '' : '*'}${glob}${anchoredEnd ? '' : '*'}`.replace(/\*{2,}/g, '*');
}

/**
 * Converts a regular expression of literal characters, `\.`-style escapes, `.`, `.*`, `.+`, `^`, `$`
 * and top-level `|` to globs (`^core\..*$|\.hprof$` → `core.*`, `*.hprof`); throws for anything else.
 */
export function faultRegexToGlobs(regex: string): string[] {
  return [...new Set(regex.split('|').map((part) => alternative(part, regex)))];
}
