import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/server.ts';

/** Bodies a hostile or broken client might send: random bytes, truncations and type mix-ups of a valid one. */
function hostileBodies(count: number): string[] {
  const valid = JSON.stringify({
    appVersion: 'v1.2.3',
    extraTagInfo: { a: 'b' },
    extraFieldInfo: { n: 1 },
    instanceId: 'x',
  });
  const values = [
    'null',
    'true',
    '1e400',
    '-0',
    '"x"',
    '[]',
    '{}',
    '[[[[[[]]]]]]',
    '"\\ud800"',
    '{"__proto__":{"a":1}}',
  ];
  const keys = [
    'appVersion',
    'extraTagInfo',
    'extraFieldInfo',
    'extraInfo',
    'instanceId',
    'APPVERSION',
    '__proto__',
    'constructor',
  ];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)] as T;
    switch (i % 4) {
      case 0:
        out.push(randomBytes(1 + Math.floor(Math.random() * 200)).toString('latin1'));
        break;
      case 1:
        out.push(valid.slice(0, Math.floor(Math.random() * valid.length)));
        break;
      case 2:
        out.push(`{"${pick(keys)}":${pick(values)},"${pick(keys)}":{"${pick(keys)}":${pick(values)}}}`);
        break;
      default:
        out.push(
          `{"appVersion":"v1","extraFieldInfo":{"${pick(keys)}":${pick(values)}},"extraTagInfo":${pick(values)}}`,
        );
    }
  }
  return out;
}

describe('the check-in endpoint never fails on input', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('sqlite', { rateLimit: '0' });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers 200 or 400 with a JSON error to 400 hostile bodies, and stays healthy', async () => {
    const statuses = new Map<number, number>();
    for (const body of hostileBodies(400)) {
      const res = await fetch(`${server.url}/v1/checkupgrade`, { method: 'POST', body });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status !== 200) {
        const json = (await res.json()) as { error: { code: string; message: string } };
        expect(json.error.code).toBe('invalid');
      } else await res.arrayBuffer();
    }
    expect([...statuses.keys()].every((s) => s === 200 || s === 400)).toBe(true);
    expect(statuses.get(400)).toBeGreaterThan(100);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    // Nothing polluted the object prototype through a crafted key.
    expect(({} as Record<string, unknown>).a).toBeUndefined();
  });
});
