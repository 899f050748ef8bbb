// The install manifest stays an install manifest: a completed `flotilla.json` must still fit the
// protocol's schema, or the agent would refuse the version later, far from its cause.
import { InstallManifest } from '@flotilla/protocol';
import { Value } from 'typebox/value';
import { BuildInputError } from '../macros.ts';

export const manifestFile = 'flotilla.json';
/** Macros the agent expands at install time; the engine leaves them as they are in the manifest. */
export const agentMacros = { version: '%%version%%', role: '%%role%%' } as const;

export function checkManifest(value: unknown, label: string): void {
  const problems = new Set<string>();
  for (const e of Value.Errors(InstallManifest, value) as {
    instancePath: string;
    keyword: string;
    message: string;
  }[]) {
    if (e.keyword === 'additionalProperties') continue; // named once more by the `boolean` error
    problems.add(`${e.instancePath || '/'}: ${e.keyword === 'boolean' ? 'unknown property' : e.message}`);
  }
  if (problems.size === 0) return;
  const list = [...problems];
  const more = list.length > 5 ? ` (and ${list.length - 5} more)` : '';
  throw new BuildInputError(label, undefined, `is not a valid install manifest: ${list.slice(0, 5).join('; ')}${more}`);
}
