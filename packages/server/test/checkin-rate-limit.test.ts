import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noTrustedProxiesMessage, untrustedPeerMessage } from '../src/checkin/forwarded.ts';
import type { ServerOptions } from '../src/config/schema.ts';
import { startTestServer, type TestServer } from './support/server.ts';

/** A server with its log lines, on the main thread or behind check-in threads. */
async function serverWithLog(flags: ServerOptions) {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const server = await startTestServer('sqlite', flags, { start: { logger } });
  return { server, lines };
}

/** Sends one check-in per forwarded address, `concurrency` at a time; returns the statuses. */
async function checkInFrom(server: TestServer, forwarded: string[], concurrency = 50): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < forwarded.length; i += concurrency) {
    const wave = forwarded.slice(i, i + concurrency).map(async (address) => {
      const res = await fetch(`${server.url}/v1/checkupgrade`, {
        method: 'POST',
        body: '{"appVersion":"v1.0.0"}',
        headers: { 'x-forwarded-for': address },
      });
      await res.arrayBuffer();
      return res.status;
    });
    statuses.push(...(await Promise.all(wave)));
  }
  return statuses;
}

const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;

async function untrustedMetric(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/flotilla_checkins_untrusted_forwarded_total (\d+)/.exec(text)?.[1] ?? 0);
}

describe.each([0, 2])('the default rate limit behind an undeclared proxy, with %i check-in threads', (threads) => {
  let server: TestServer;
  let lines: Array<{ level: number; msg: string }>;
  beforeAll(async () => {
    ({ server, lines } = await serverWithLog({ checkinThreads: String(threads) }));
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('refuses none of a fleet of 700 forwarded addresses sent 50 at a time, and warns once', async () => {
    const fleet = Array.from({ length: 700 }, (_, i) => `198.51.${100 + (i >> 8)}.${i & 255}`);
    const statuses = await checkInFrom(server, fleet);
    expect(count(statuses, 200)).toBe(700);
    const warnings = lines.filter((l) => l.msg.includes('X-Forwarded-For'));
    expect(warnings.map((l) => l.level)).toEqual([40]);
    expect(warnings[0]?.msg).toContain('--trusted-proxies (FLOTILLA_TRUSTED_PROXIES)');
    expect(await untrustedMetric(server)).toBe(700);
  });

  it('still limits one forwarded address that floods', async () => {
    // 600 a minute: across at most two windows, no more than 1200 of 1250 can pass.
    const forwarded = await checkInFrom(server, Array(1250).fill('203.0.113.7'));
    expect(count(forwarded, 429)).toBeGreaterThanOrEqual(50);
    expect(count(forwarded, 200) + count(forwarded, 429)).toBe(1250);
  });
});

describe.each([0, 2])('the rate limit once proxies are declared, with %i check-in threads', (threads) => {
  let server: TestServer;
  let lines: Array<{ level: number; msg: string }>;
  beforeAll(async () => {
    // Loopback, where the test's requests come from, is not a declared proxy.
    ({ server, lines } = await serverWithLog({
      checkinThreads: String(threads),
      trustedProxies: '10.0.0.0/8',
      rateLimit: '2',
    }));
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('limits a peer outside --trusted-proxies as itself, whatever addresses it claims', async () => {
    const statuses: number[] = [];
    for (const address of ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4']) {
      statuses.push(...(await checkInFrom(server, [address])));
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(lines.filter((l) => l.msg.includes('X-Forwarded-For')).map((l) => l.msg)).toEqual([untrustedPeerMessage]);
  });
});

const randomAddress = () => Array.from({ length: 4 }, () => 1 + Math.floor(Math.random() * 254)).join('.');

describe.each([0, 2])('a peer that makes up forwarded addresses, with %i check-in threads', (threads) => {
  let server: TestServer;
  beforeAll(async () => {
    // 5 a minute per address, so 500 a minute for the peer in total (100 times the limit).
    ({ server } = await serverWithLog({ checkinThreads: String(threads), rateLimit: '5' }));
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('gives each forwarded address its bucket when a load balancer adds the port', async () => {
    const fleet = Array.from({ length: 30 }, (_, i) =>
      i % 3 === 0 ? `[2001:db8:${i}::1]:443` : `198.51.100.${i}:${40_000 + i}`,
    );
    // Each address twice: were the port not stripped, all 60 would share the peer's bucket of 5.
    const statuses = await checkInFrom(server, [...fleet, ...fleet], 30);
    expect(count(statuses, 200)).toBe(60);
  });

  it('is refused past the per-peer total, however many addresses it claims', async () => {
    const statuses = await checkInFrom(
      server,
      Array.from({ length: 5000 }, () => randomAddress()),
    );
    // The peer used 60 of its 500 above, so 440 more pass (the first 8 waves of 50 whole; check-in
    // threads may take the 9th out of order); across at most two windows, no more than 940.
    expect(statuses.slice(0, 400)).toEqual(Array(400).fill(200));
    expect(count(statuses, 200)).toBeGreaterThanOrEqual(440);
    expect(count(statuses, 200)).toBeLessThanOrEqual(940);
    expect(count(statuses, 200) + count(statuses, 429)).toBe(5000);
  });
});

describe.each([0, 2])('the X-Forwarded-For warning on other routes, with %i check-in threads', (threads) => {
  let server: TestServer;
  let lines: Array<{ level: number; msg: string }>;
  beforeAll(async () => {
    ({ server, lines } = await serverWithLog({ checkinThreads: String(threads) }));
  });
  afterAll(async () => {
    await server?.stop();
  });

  const warnings = () => lines.filter((l) => l.msg.includes('X-Forwarded-For')).map((l) => l.msg);

  it('is logged once for API requests from an untrusted peer, shared with check-ins', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(warnings()).toEqual([]);
    const forwarded = { 'x-forwarded-for': '198.51.100.1' };
    expect((await fetch(`${server.url}/healthz`, { headers: forwarded })).status).toBe(200);
    expect(warnings()).toEqual([noTrustedProxiesMessage]);
    expect((await fetch(`${server.url}/api/v1/services`, { headers: forwarded })).status).toBe(401);
    expect(await checkInFrom(server, ['198.51.100.2'])).toEqual([200]);
    expect(warnings()).toEqual([noTrustedProxiesMessage]);
    // Only the check-in is counted in the metric.
    expect(await untrustedMetric(server)).toBe(1);
  });
});
