/** Where a build input went wrong: the file (relative to its tree), the 1-based line, and why. */
export class BuildInputError extends Error {
  readonly file: string;
  readonly line: number | undefined;
  constructor(file: string, line: number | undefined, reason: string) {
    super(line === undefined ? `${file}: ${reason}` : `${file}:${line}: ${reason}`);
    this.name = 'BuildInputError';
    this.file = file;
    this.line = line;
  }
}

export type Macros = Readonly<Record<string, string>>;

const macroName = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
const reference = /%%([^%\s]{1,128})%%/g;

/** Checks a macro name given on the command line, in a spec or in a `.defines` file. */
export function isMacroName(name: string): boolean {
  return macroName.test(name);
}

/**
 * Replaces every `%%name%%` in `text` with its value; a name without a value stops the build with
 * the file and line of its first use, or with `undefinedMacros: 'keep'` stays as written (a developer
 * version's settings leave some for client versions). Values are inserted as they are, never expanded again.
 */
export function expandMacros(
  text: string,
  macros: Macros,
  file: string,
  undefinedMacros: 'error' | 'keep' = 'error',
): string {
  return text.replace(reference, (match, name: string, offset: number) => {
    if (!isMacroName(name)) return match;
    const value = Object.hasOwn(macros, name) ? macros[name] : undefined;
    if (value === undefined && undefinedMacros === 'keep') return match;
    if (value === undefined) {
      const line = text.slice(0, offset).split('\n').length;
      throw new BuildInputError(file, line, `macro %%${name}%% is not defined`);
    }
    return value;
  });
}

/** Parses `name=value` lines (blank lines and `#` comments skipped), as a `.defines` file holds them. */
export function parseDefines(text: string, file: string): Record<string, string> {
  const defines: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const name = eq < 0 ? '' : line.slice(0, eq).trim();
    if (!isMacroName(name)) throw new BuildInputError(file, index + 1, 'expected name=value');
    defines[name] = line.slice(eq + 1).trim();
  });
  return defines;
}
