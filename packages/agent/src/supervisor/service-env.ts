// The environment a service starts with.

/** Inherited by the service; everything else in the agent's environment (e.g. its token) stays private. */
const inheritedEnv = ['PATH', 'HOME', 'LANG', 'TZ'];

export function serviceEnv(specEnv: Record<string, string>, parent: NodeJS.ProcessEnv = process.env) {
  const env: Record<string, string> = {};
  for (const key of inheritedEnv) {
    const value = parent[key];
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...specEnv };
}
