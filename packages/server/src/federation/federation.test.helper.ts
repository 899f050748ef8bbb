// A provider with a service in a profile and a consumer account, for the federation tests.
import { readFileSync } from 'node:fs';
import { callApi } from '../../test/support/api.ts';
import { makeArtifact } from '../catalog/archive.test.helper.ts';

export const manifest = { run: { command: 'node', args: ['-e', 'setInterval(() => {}, 1000)'] } };

export async function publishOn(base: string, service: string, version: string, text = version): Promise<void> {
  const file = await makeArtifact(manifest, { 'VERSION.txt': text });
  const res = await callApi(base, 'PUT', `/api/v1/services/${service}/versions/${version}`, {
    raw: readFileSync(file),
  });
  if (res.status !== 201) throw new Error(`publish ${service} ${version}: ${res.status} ${res.bytes}`);
}

/** Makes services `web` and `db`, profile `partner` with only `web`, `web` 1.0.0, and consumer `acme`; returns its token. */
export async function setUpProvider(base: string, consumer = 'acme'): Promise<string> {
  for (const name of ['web', 'db'])
    await callApi(base, 'POST', '/api/v1/services', { body: { name, description: `the ${name}` } });
  await callApi(base, 'PUT', '/api/v1/profiles/partner', { body: { services: ['web'] } });
  await publishOn(base, 'web', '1.0.0');
  await publishOn(base, 'db', '1.0.0');
  const res = await callApi(base, 'POST', '/api/v1/consumers', { body: { name: consumer, profile: 'partner' } });
  if (res.status !== 201) throw new Error(`consumer: ${res.status} ${res.bytes}`);
  return res.body.token as string;
}

/** Polls until `check` gives a value, or fails naming `what`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
