import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.ts';

/** Reads a file named in the configuration; a failure names the file and the reason. */
export function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

export function readJsonConfig(path: string): unknown {
  const text = readConfigText(path);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid JSON: ${(err as Error).message}`);
  }
}
