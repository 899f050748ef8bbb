import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LogHub } from './follow.ts';
import { levelRanks, lineId } from './lines.ts';
import type { LogLinesTable } from './tables.ts';

function row(over: Partial<LogLinesTable> = {}): LogLinesTable {
  const time = Date.parse('2030-01-01T00:00:00Z');
  return {
    id: lineId(time),
    received_at: time,
    time,
    environment: 'prod',
    instance_id: 'h1',
    service: 'web',
    version: null,
    pid: null,
    level: 'info',
    level_rank: levelRanks.info,
    unit: 'u',
    stream: 'stdout',
    message: 'hello',
    ...over,
  };
}

/** A socket stand-in: collects what is written; `stall` makes it stop draining until `release`. */
class Sink extends Writable {
  text = '';
  #held: Array<() => void> = [];
  stalled = false;
  constructor() {
    super({ highWaterMark: 1, decodeStrings: false });
  }
  override _write(chunk: string | Buffer, _enc: BufferEncoding, cb: () => void) {
    this.text += chunk.toString();
    if (this.stalled) this.#held.push(cb);
    else cb();
  }
  release() {
    this.stalled = false;
    for (const cb of this.#held.splice(0)) cb();
  }
}

const events = (text: string, name: string) =>
  text
    .split('\n\n')
    .filter((f) => f.startsWith(`event: ${name}\n`))
    .map((f) => JSON.parse(f.slice(f.indexOf('data: ') + 6)));

describe('log follow hub', () => {
  it('sends matching lines only, as server-sent events', () => {
    const hub = new LogHub();
    const out = new Sink();
    hub.follow({ service: 'web', minRank: levelRanks.warn, q: 'DISK' }, out);
    hub.publish([
      row({ message: 'disk full', level: 'error', level_rank: 4 }),
      row({ message: 'disk full', service: 'api', level: 'error', level_rank: 4 }),
      row({ message: 'disk ok', level: 'info', level_rank: 2 }),
      row({ message: 'cpu hot', level: 'warn', level_rank: 3 }),
    ]);
    expect(out.text.startsWith(': connected\n\n')).toBe(true);
    const lines = events(out.text, 'line');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ service: 'web', level: 'error', message: 'disk full', instanceId: 'h1' });
    hub.closeAll();
    expect(out.writableEnded).toBe(true);
    expect(hub.size).toBe(0);
  });

  it('follows the lines of one version', () => {
    const hub = new LogHub();
    const out = new Sink();
    hub.follow({ version: '3.0.0' }, out);
    hub.publish([row({ message: 'from 3.0.0', version: '3.0.0' }), row({ message: 'from 2.0.0', version: '2.0.0' })]);
    expect(events(out.text, 'line').map((l) => l.message)).toEqual(['from 3.0.0']);
    hub.closeAll();
  });

  it('holds a bounded backlog for a socket that drains again, and loses nothing', async () => {
    const hub = new LogHub({ maxPending: 20 });
    const out = new Sink();
    hub.follow({}, out);
    out.stalled = true;
    hub.publish([row({ message: 'first' })]);
    // The socket now refuses more; the next lines wait for it.
    hub.publish(Array.from({ length: 10 }, (_, i) => row({ message: `m${i}` })));
    expect(events(out.text, 'line').map((l) => l.message)).toEqual(['first']);
    expect(hub.pendingBytes).toBeGreaterThan(0);
    out.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(events(out.text, 'line').map((l) => l.message)).toEqual([
      'first',
      ...Array.from({ length: 10 }, (_, i) => `m${i}`),
    ]);
    expect(hub.pendingBytes).toBe(0);
    hub.closeAll();
  });

  it('closes a follow stream that never reads, with a reason, and frees what it held', async () => {
    const hub = new LogHub({ maxPendingBytes: 4096, closeGraceMs: 20 });
    const out = new Sink();
    hub.follow({}, out);
    out.stalled = true;
    hub.publish([row({ message: 'first' })]);
    const big = 'x'.repeat(1000);
    hub.publish(Array.from({ length: 3 }, () => row({ message: big })));
    expect(hub.size).toBe(1);
    expect(hub.pendingBytes).toBeGreaterThan(3000);
    // One more line would pass the bound: the stream is closed and forgotten at once.
    hub.publish([row({ message: big })]);
    expect(hub.size).toBe(0);
    expect(hub.pendingBytes).toBe(0);
    expect(out.writableEnded).toBe(true);
    // The reader never takes the rest, so its socket is cut after the grace time.
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(out.destroyed).toBe(true);
    // A reader that does drain gets the reason as the last event.
    const slow = new Sink();
    const hub2 = new LogHub({ maxPending: 2 });
    hub2.follow({}, slow);
    slow.stalled = true;
    hub2.publish(Array.from({ length: 4 }, (_, i) => row({ message: `s${i}` })));
    slow.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(events(slow.text, 'closed')).toEqual([{ reason: 'reader too slow' }]);
    expect(slow.writableFinished).toBe(true);
  });

  it('caps follow streams per owner and in total', () => {
    const hub = new LogHub({ maxPerOwner: 2, maxTotal: 3 });
    for (let i = 0; i < 2; i++) {
      hub.admit('user:a');
      hub.follow({}, new Sink(), 'user:a');
    }
    expect(() => hub.admit('user:a')).toThrow(/at most 2 log-follow streams/);
    hub.admit('user:b');
    hub.follow({}, new Sink(), 'user:b');
    expect(() => hub.admit('user:c')).toThrow(/holds 3 log-follow streams/);
    hub.closeAll();
    expect(() => hub.admit('user:a')).not.toThrow();
  });

  it('sends keepalive comments and forgets followers whose client left', async () => {
    const hub = new LogHub({ keepaliveMs: 10 });
    const out = new Sink();
    hub.follow({}, out);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(out.text).toContain(': keepalive\n\n');
    out.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect(hub.size).toBe(0);
  });
});
