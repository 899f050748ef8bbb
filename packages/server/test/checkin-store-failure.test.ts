import pg from 'pg';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { describeEachStore, storedCheckins } from './support/databases.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const checkin = '{"appVersion":"v1.0.0"}';

/** A logger whose lines the test reads. */
function capturingLogger() {
  const lines: Array<{ level: number; msg: string }> = [];
  return { lines, logger: pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) }) };
}

async function unstoredMetric(server: TestServer, reason: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const match = new RegExp(`flotilla_checkins_unstored_total\\{app="default",reason="${reason}"\\} (\\d+)`).exec(text);
  return Number(match?.[1] ?? 0);
}

const post = (server: TestServer) => fetch(`${server.url}/v1/checkupgrade`, { method: 'POST', body: checkin });

describe.each([0, 2])('a store whose WAL sync failed, with %i check-in threads', (threads) => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  /** An SQLite store whose WAL sync fails once `sync.failing` is set, as a sick disk would. */
  const start = async (flags: { onStoreFailure?: string }) => {
    const sync = { failing: false };
    const log = capturingLogger();
    server = await startTestServer(
      'sqlite',
      { rateLimit: '0', checkinThreads: String(threads), ...flags },
      {
        start: {
          logger: log.logger,
          syncWal: async () => {
            if (sync.failing) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
          },
        },
      },
    );
    return { server, sync, lines: log.lines };
  };

  it('answers check-ins by default with the same body, marked and counted as unstored; /readyz says why', async () => {
    const { server, sync, lines } = await start({});
    const first = await post(server);
    expect(first.status).toBe(200);
    expect(first.headers.get('flotilla-unstored')).toBeNull();
    const answer = await first.text();

    sync.failing = true;
    for (let i = 0; i < 5; i++) {
      const res = await post(server);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.headers.get('flotilla-unstored')).toBe('store_failed');
      expect(await res.text()).toBe(answer);
    }
    expect(await unstoredMetric(server, 'store_failed')).toBe(5);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reason: string }).reason).toMatch(/could not be synced.*restart the server/);
    // One line for the incident, not one per check-in.
    expect(lines.filter((l) => l.msg.startsWith('check-ins cannot be stored')).map((l) => l.level)).toEqual([50]);
    await server.close();
    // The commit whose sync failed reached the file unsynced; nothing was committed after it.
    expect(await storedCheckins(server.database)).toBe(2);
  });

  it('refuses them with 503 and Retry-After under --on-store-failure refuse', async () => {
    const { server, sync, lines } = await start({ onStoreFailure: 'refuse' });
    expect((await post(server)).status).toBe(200);
    sync.failing = true;
    for (let i = 0; i < 3; i++) {
      const res = await post(server);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unavailable');
    }
    expect(await unstoredMetric(server, 'store_failed')).toBe(3);
    expect(lines.filter((l) => l.msg.startsWith('check-ins cannot be stored')).map((l) => l.msg)).toEqual([
      'check-ins cannot be stored; refusing check-ins with 503 until the store recovers (--on-store-failure refuse)',
    ]);
  });
});

describeEachStore([['postgres', 0] as const, ['postgres', 2] as const])(
  'a PostgreSQL store that goes away and comes back (%s, %i check-in threads)',
  (kind, threads) => {
    let server: TestServer | undefined;
    afterEach(async () => {
      await server?.stop();
      server = undefined;
    });

    it('answers check-ins while it is away and stores them again once it is back', async () => {
      server = await startTestServer(kind, { rateLimit: '0', checkinThreads: String(threads) });
      const name = new URL(server.database).pathname.slice(1);
      const admin = new pg.Client({ connectionString: process.env.FLOTILLA_TEST_POSTGRES_URL });
      await admin.connect();
      try {
        expect((await post(server)).headers.get('flotilla-unstored')).toBeNull();
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
        for (let i = 0; i < 3; i++) {
          const res = await post(server);
          expect(res.status).toBe(200);
          expect(res.headers.get('flotilla-unstored')).toBe('store_failed');
          expect(await res.text()).toContain('"versions"');
        }
        expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
        const back = await post(server);
        expect(back.status).toBe(200);
        expect(back.headers.get('flotilla-unstored')).toBeNull();
        expect(await storedCheckins(server.database)).toBe(2);
      } finally {
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => {});
        await admin.end();
      }
    });
  },
);
