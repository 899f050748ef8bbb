// Reads the files the engine parses or expands: bounded in size, and refused when binary, since
// macros are expanded in text only.
import { readFileSync } from 'node:fs';
import { BuildInputError, isMacroName } from '../macros.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A file that holds a NUL byte or is not UTF-8 is binary. */
export function decodeText(bytes: Uint8Array): string | undefined {
  if (bytes.subarray(0, 8192).includes(0)) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

export function readText(path: string, size: number, limit: number, label: string): string {
  if (size > limit)
    throw new BuildInputError(
      label,
      undefined,
      `${size} bytes is more than the ${limit} bytes a settings file may have`,
    );
  const text = decodeText(readFileSync(path));
  if (text === undefined) throw new BuildInputError(label, undefined, 'is binary (not UTF-8 text)');
  return text;
}

/** The macro names a text refers to, in order of first use. */
export function macroNames(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/%%([^%\s]{1,128})%%/g)) if (isMacroName(m[1] as string)) names.add(m[1] as string);
  return [...names];
}
