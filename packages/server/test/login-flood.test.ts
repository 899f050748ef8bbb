import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, startTestServer, type TestServer } from './support/server.ts';

const password = 'the right long password';

/** Logins with made-up names, all at once, each from `address(i)`; returns statuses and Retry-After values. */
async function flood(server: TestServer, count: number, address: (i: number) => string) {
  const answers = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const res = await fetch(`${server.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': address(i) },
        body: JSON.stringify({
          name: `random-${i}-${Math.random().toString(36).slice(2)}`,
          password: 'a guess, a guess',
        }),
      });
      const body = (await res.json()) as { error: { code: string; message: string } };
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
    }),
  );
  const count401 = answers.filter((a) => a.status === 401).length;
  const refused = answers.filter((a) => a.status === 429);
  return { answers, count401, refused };
}

async function login(server: TestServer, name: string, address: string) {
  const res = await fetch(`${server.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify({ name, password }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('a flood of logins with random user names', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('sqlite', { trustedProxies: '127.0.0.0/8' });
    const res = await fetch(`${server.url}/api/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'alice', role: 'viewer', password }),
    });
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('logins with random user names are limited per source: 429 with Retry-After, whatever the name', async () => {
    let checkinDone = false;
    const floodDone = flood(server, 100, () => '198.51.100.7').then((result) => ({ result, checkinDone }));
    const checkin = await fetch(`${server.url}/v1/checkupgrade`, {
      method: 'POST',
      headers: { 'x-forwarded-for': '203.0.113.50' },
      body: '{"appVersion":"v1.0.0"}',
    });
    expect(checkin.status).toBe(200);
    checkinDone = true;
    const { result, checkinDone: checkinBeforeFloodEnded } = await floodDone;
    // The check-in was answered while the flood's password checks were still queued.
    expect(checkinBeforeFloodEnded).toBe(true);
    // 10 failures per source at once; the hash queue may refuse some of those too. Nothing else is answered.
    expect(result.count401).toBeGreaterThan(0);
    expect(result.count401).toBeLessThanOrEqual(10);
    expect(result.count401 + result.refused.length).toBe(100);
    expect(result.refused.length).toBeGreaterThanOrEqual(90);
    for (const r of result.refused) {
      expect(r.body.error.code).toBe('rate_limited');
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    // Attempts the queue refused were given back; spend the rest of the source's budget.
    let spent = 0;
    while (spent < 10 && (await flood(server, 1, () => '198.51.100.7')).count401 === 1) spent++;
    expect(spent).toBeLessThan(10);
    // A known name from that source is refused the same way, so a refusal reveals no name.
    const known = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.7' },
      body: JSON.stringify({ name: 'alice', password: 'a guess, a guess' }),
    });
    expect(known.status).toBe(429);
    expect(((await known.json()) as { error: { message: string } }).error.message).toMatch(
      /^too many failed logins from this address; retry in \d+ s$/,
    );
    // Another source still gets in.
    expect(await login(server, 'alice', '198.51.100.8')).toBe(200);
  });

  it('logins with random user names from many sources are limited overall, and the hash queue refuses when full', async () => {
    const { answers, count401, refused } = await flood(server, 150, (i) => `192.0.2.${i + 1}`);
    expect(count401 + refused.length).toBe(150);
    // The overall budget allows 30 failures at once (minus what the first flood spent).
    expect(count401).toBeLessThanOrEqual(30);
    expect(refused.length).toBeGreaterThanOrEqual(120);
    const messages = new Set(refused.map((r) => r.body.error.message.replace(/\d+ s$/, 'N s')));
    expect(
      [...messages].every((m) =>
        /^(too many failed logins on this server|the server is busy checking passwords); retry in N s$/.test(m),
      ),
    ).toBe(true);
    expect(answers.every((a) => a.status === 401 || Number(a.retryAfter) >= 1)).toBe(true);
    // Where alice logged in before, the overall budget does not keep her out.
    expect(await login(server, 'alice', '198.51.100.8')).toBe(200);
  });
});
