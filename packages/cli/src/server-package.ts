// @flotilla/server is an optional peer of the command: a host that runs only the agent does not
// install it. Whatever needs it loads it here, so its absence is one clear error, never a stack.
import { CliError } from './api-client.ts';

export const installServerHint = 'npm install @flotilla/server (or the flotilla bundle)';

/** The error for a command that needs the control plane on a host without it (a usage error: exit 2). */
export function serverMissing(what: string): CliError {
  return new CliError(`${what} needs the control plane: ${installServerHint}`, 2);
}

/** True when the package itself is not installed; a dependency of it missing is another error. */
export function isServerMissing(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  return (
    code === 'ERR_MODULE_NOT_FOUND' &&
    typeof message === 'string' &&
    /^Cannot find package '@flotilla\/server'/.test(message)
  );
}

/** Loads a server module for `what` (e.g. "flotilla server"); without the package, a clear CliError. */
export async function loadServer<T>(what: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (isServerMissing(err)) throw serverMissing(what);
    throw err;
  }
}

/** Loads a server module if the package is installed, else undefined (for help text and options). */
export async function loadServerIfInstalled<T>(load: () => Promise<T>): Promise<T | undefined> {
  try {
    return await load();
  } catch (err) {
    if (isServerMissing(err)) return undefined;
    throw err;
  }
}
