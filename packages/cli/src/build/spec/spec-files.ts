// Names shared by the spec readers, and the two ways a spec writes name/value pairs.

/** The seed's spec, at the root of the first source. */
export const specFileName = 'update.json';
/** Flotilla's own spec; read instead of update.json when both are there. */
export const nativeSpecFileName = 'flotilla-build.json';

/** `env` and `settings` as one object, whether written as an object or a list of objects. */
export function nameValues(
  value: Record<string, string> | Record<string, string>[] | undefined,
): Record<string, string> {
  if (value === undefined) return {};
  const list = Array.isArray(value) ? value : [value];
  const out: Record<string, string> = {};
  for (const entry of list) for (const [k, v] of Object.entries(entry)) out[k] = v;
  return out;
}

/** Macros the agent expands on each host; a build leaves them as written. */
export const agentMacros = { version: '%%version%%', role: '%%role%%' };
