import type { AgentLogLine } from '@flotilla/protocol';
import { beforeEach, describe, expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { Invalid } from '../errors.ts';
import { createLogService } from './service.ts';
import { likePattern } from './store.ts';

const t0 = Date.parse('2030-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function line(over: Partial<AgentLogLine> = {}): AgentLogLine {
  return {
    service: 'web',
    time: iso(t0),
    level: 'info',
    unit: 'http',
    stream: 'stdout',
    message: 'hello',
    ...over,
  };
}

describe('likePattern', () => {
  it('escapes the LIKE wildcards and the escape character', () => {
    expect(likePattern('50%_a\\b')).toBe('%50\\%\\_a\\\\b%');
  });
});

describeEachStore(allStoreKinds)('log service on %s', (kind) => {
  const handle = useMigratedDatabase(kind);
  let clock = t0 + 60_000;
  beforeEach(() => {
    clock = t0 + 60_000;
  });
  const service = () =>
    createLogService({
      db: handle.current.db,
      dialect: handle.current.dialect,
      retentionMs: 14 * 86_400_000,
      now: () => clock,
    });

  it('stores a batch with the token environment and pins far-future times to the arrival time', async () => {
    const logs = service();
    const accepted = await logs.ingest(
      { environment: 'prod' },
      {
        instanceId: 'host-1',
        lines: [
          line({ message: 'first', version: '1.2', pid: 42 }),
          line({ message: 'future', time: iso(clock + 2 * 86_400_000) }),
          line({ message: 'slightly ahead', time: iso(clock + 3_600_000) }),
        ],
      },
    );
    expect(accepted).toEqual({ accepted: 3 });
    const page = await logs.search({});
    expect(page.nextCursor).toBeNull();
    const byMessage = Object.fromEntries(page.lines.map((l) => [l.message, l]));
    expect(byMessage.first).toMatchObject({
      environment: 'prod',
      instanceId: 'host-1',
      service: 'web',
      version: '1.2',
      pid: 42,
      level: 'info',
      unit: 'http',
      stream: 'stdout',
      time: iso(t0),
      receivedAt: iso(clock),
    });
    expect(byMessage.future?.time).toBe(iso(clock));
    expect(byMessage['slightly ahead']?.time).toBe(iso(clock + 3_600_000));
    expect(byMessage.future?.version).toBeNull();
    expect(byMessage.future?.pid).toBeNull();
  });

  it('stores batches larger than one multi-row insert', async () => {
    const logs = service();
    const lines = Array.from({ length: 1234 }, (_, i) => line({ message: `m${i}`, time: iso(t0 + i) }));
    expect(await logs.ingest({ environment: 'prod' }, { instanceId: 'h', lines })).toEqual({ accepted: 1234 });
    const page = await logs.search({ limit: 1000 });
    expect(page.lines).toHaveLength(1000);
    expect(page.lines[0]?.message).toBe('m1233');
    const rest = await logs.search({ limit: 1000, cursor: page.nextCursor as string });
    expect(rest.lines).toHaveLength(234);
    expect(rest.lines.at(-1)?.message).toBe('m0');
    expect(rest.nextCursor).toBeNull();
  });

  it("stores a batch of up to 500 lines as one statement through the store's writeOne, a larger one in a transaction", async () => {
    const used: string[] = [];
    const database = handle.current;
    const logs = createLogService({
      db: database.db,
      dialect: database.dialect,
      retentionMs: 14 * 86_400_000,
      now: () => clock,
      commit: (work) => {
        used.push('commit');
        return database.commitDurably(work);
      },
      writeOne: (work) => {
        used.push('writeOne');
        return database.writeOne(work);
      },
    });
    const lines = (n: number, tag: string) =>
      Array.from({ length: n }, (_, i) => line({ message: `${tag}${i}`, time: iso(t0 + i) }));
    expect(await logs.ingest({ environment: 'prod' }, { instanceId: 'h', lines: lines(500, 'a') })).toEqual({
      accepted: 500,
    });
    expect(await logs.ingest({ environment: 'prod' }, { instanceId: 'h', lines: lines(501, 'b') })).toEqual({
      accepted: 501,
    });
    expect(used).toEqual(['writeOne', 'commit']);
    expect((await logs.search({ q: 'a', limit: 1000 })).lines).toHaveLength(500);
    expect((await logs.search({ q: 'b', limit: 1000 })).lines).toHaveLength(501);
  });

  it('pages newest first with cursors, lines of the same millisecond in arrival order', async () => {
    const logs = service();
    // Three lines share one millisecond: the cursor must split them without loss or repeats.
    const times = [t0, t0 + 1000, t0 + 1000, t0 + 1000, t0 + 2000, t0 + 3000, t0 + 4000];
    await logs.ingest(
      { environment: 'prod' },
      { instanceId: 'h', lines: times.map((t, i) => line({ time: iso(t), message: `n${i}` })) },
    );
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await logs.search({ limit: 2, cursor });
      expect(page.lines.length).toBeLessThanOrEqual(2);
      seen.push(...page.lines.map((l) => l.message));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(['n6', 'n5', 'n4', 'n3', 'n2', 'n1', 'n0']);
    await expect(logs.search({ cursor: 'bm90LWEtY3Vyc29y' })).rejects.toBeInstanceOf(Invalid);
  });

  it('filters by level and above, service, instance, environment, version and time range', async () => {
    const logs = service();
    await logs.ingest(
      { environment: 'prod' },
      {
        instanceId: 'a',
        lines: [
          line({ level: 'trace', message: 't', time: iso(t0) }),
          line({ level: 'debug', message: 'd', time: iso(t0 + 1) }),
          line({ level: 'info', message: 'i', time: iso(t0 + 2) }),
          line({ level: 'warn', message: 'w', time: iso(t0 + 3) }),
          line({ level: 'error', message: 'e', time: iso(t0 + 4), service: 'api', version: '3.0.0' }),
        ],
      },
    );
    await logs.ingest(
      { environment: 'test' },
      { instanceId: 'b', lines: [line({ message: 'other', level: 'error' })] },
    );
    const messages = async (q: Parameters<typeof logs.search>[0]) => (await logs.search(q)).lines.map((l) => l.message);
    expect(await messages({ level: 'warn' })).toEqual(['e', 'w', 'other']);
    expect(await messages({ level: 'info', environment: 'prod' })).toEqual(['e', 'w', 'i']);
    expect(await messages({ service: 'api' })).toEqual(['e']);
    expect(await messages({ instance: 'b' })).toEqual(['other']);
    expect(await messages({ version: '3.0.0' })).toEqual(['e']);
    expect(await messages({ environment: 'prod', from: iso(t0 + 1), to: iso(t0 + 3) })).toEqual(['w', 'i', 'd']);
    expect(await messages({ from: iso(t0 + 4) })).toEqual(['e']);
    await expect(logs.search({ from: iso(t0 + 5), to: iso(t0) })).rejects.toBeInstanceOf(Invalid);
  });

  it("pages through a fault's time range only, newest first, with both ends inclusive", async () => {
    const logs = service();
    const fault = t0 + 3_600_000;
    const minute = 60_000;
    const at = (ms: number, message: string) => line({ message, time: iso(ms) });
    await logs.ingest(
      { environment: 'prod' },
      {
        instanceId: 'h',
        lines: [
          at(fault - 6 * minute, 'too early'),
          at(fault - 5 * minute, 'starting'),
          at(fault - 1000, 'panic: nil map write'),
          at(fault, 'exited'),
          at(fault + minute, 'restarted'),
          at(fault + minute + 1, 'too late'),
          ...Array.from({ length: 5 }, (_, i) => at(fault + (i + 1) * 3_600_000, `later ${i}`)),
        ],
      },
    );
    const range = { from: iso(fault - 5 * minute), to: iso(fault + minute) };
    const first = await logs.search({ ...range, limit: 3 });
    expect(first.lines.map((l) => l.message)).toEqual(['restarted', 'exited', 'panic: nil map write']);
    expect(first.nextCursor).not.toBeNull();
    const second = await logs.search({ ...range, limit: 3, cursor: first.nextCursor ?? '' });
    expect(second.lines.map((l) => l.message)).toEqual(['starting']);
    expect(second.nextCursor).toBeNull();
    // Without the range, the newest lines hold none of the fault's.
    expect((await logs.search({ limit: 5 })).lines.map((l) => l.message)).not.toContain('exited');
  });

  it('searches message text case-insensitively, with % and _ matching only themselves', async () => {
    const logs = service();
    await logs.ingest(
      { environment: 'prod' },
      {
        instanceId: 'h',
        lines: [
          line({ message: 'Disk 100% full', time: iso(t0) }),
          line({ message: 'disk 1000 full', time: iso(t0 + 1) }),
          line({ message: 'user_id=7 Logged In', time: iso(t0 + 2) }),
          line({ message: 'userXid=7 logged in', time: iso(t0 + 3) }),
          line({ message: 'path C:\\temp', time: iso(t0 + 4) }),
        ],
      },
    );
    const messages = async (q: string) => (await logs.search({ q })).lines.map((l) => l.message);
    expect(await messages('100%')).toEqual(['Disk 100% full']);
    expect(await messages('user_id')).toEqual(['user_id=7 Logged In']);
    expect(await messages('LOGGED in')).toEqual(['userXid=7 logged in', 'user_id=7 Logged In']);
    expect(await messages('DISK')).toEqual(['disk 1000 full', 'Disk 100% full']);
    expect(await messages(':\\t')).toEqual(['path C:\\temp']);
    expect(await messages('nothing like this')).toEqual([]);
  });

  it('deletes only the lines past their retention', async () => {
    const logs = service();
    const day = 86_400_000;
    clock = t0 + 20 * day;
    await logs.ingest(
      { environment: 'prod' },
      {
        instanceId: 'h',
        lines: [
          line({ message: 'old', time: iso(t0) }),
          line({ message: 'edge-old', time: iso(clock - 14 * day - 1) }),
          line({ message: 'kept', time: iso(clock - 14 * day + 1000) }),
          line({ message: 'new', time: iso(clock) }),
        ],
      },
    );
    expect(await logs.prune()).toBe(2);
    expect((await logs.search({})).lines.map((l) => l.message)).toEqual(['new', 'kept']);
    expect(await logs.prune()).toBe(0);
  });
});
