import type { Coordinate, MemberUpdate, MeshMessage, MessageExtras, PairSummary, SummaryDelta } from './contracts.ts';

// A message from the network is checked field by field before membership or measurement sees it;
// anything unknown or out of range makes the whole message invalid (dropped and counted).

export class InvalidMessage extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidMessage';
  }
}

type Obj = Record<string, unknown>;
const MAX_LIST = 1024;
const STATES = new Set(['alive', 'suspect', 'dead', 'left']);
const PHASES = new Set(['dns', 'connect', 'tls', 'request']);

function fail(path: string, what: string): never {
  throw new InvalidMessage(`${path}: ${what}`);
}
function obj(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be an object');
  return v as Obj;
}
function str(v: unknown, path: string, max = 253): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) fail(path, `must be a string of 1-${max} characters`);
  return v;
}
function count(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(path, 'must be a non-negative integer');
  return v;
}
function num(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, 'must be a finite number');
  return v;
}
function list<T>(v: unknown, path: string, item: (x: unknown, p: string) => T, max = MAX_LIST): T[] {
  if (!Array.isArray(v) || v.length > max) fail(path, `must be a list of at most ${max}`);
  return v.map((x, i) => item(x, `${path}[${i}]`));
}
function opt<T>(o: Obj, key: string, path: string, check: (v: unknown, p: string) => T): T | undefined {
  return o[key] === undefined ? undefined : check(o[key], `${path}.${key}`);
}
/** Copies only the known keys, dropping undefined ones (so no unknown field reaches the rest of the node). */
function pick<T>(fields: Record<string, unknown>): T {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as T;
}

function member(v: unknown, path: string): MemberUpdate {
  const o = obj(v, path);
  const state = o.state;
  if (typeof state !== 'string' || !STATES.has(state)) fail(`${path}.state`, 'must be alive, suspect, dead or left');
  return {
    name: str(o.name, `${path}.name`),
    address: str(o.address, `${path}.address`, 300),
    incarnation: count(o.incarnation, `${path}.incarnation`),
    state: state as MemberUpdate['state'],
  };
}

function summary(v: unknown, path: string): PairSummary {
  const o = obj(v, path);
  const phase = o.phase;
  if (typeof phase !== 'string' || !PHASES.has(phase)) fail(`${path}.phase`, 'must be dns, connect, tls or request');
  const seconds = (key: string) => opt(o, key, path, num);
  return pick<PairSummary>({
    from: str(o.from, `${path}.from`),
    to: str(o.to, `${path}.to`),
    phase,
    minute: count(o.minute, `${path}.minute`),
    count: count(o.count, `${path}.count`),
    failed: count(o.failed, `${path}.failed`),
    min: seconds('min'),
    p50: seconds('p50'),
    p99: seconds('p99'),
    max: seconds('max'),
    jitter: seconds('jitter'),
  });
}

function delta(v: unknown, path: string): SummaryDelta {
  const o = obj(v, path);
  return {
    origin: str(o.origin, `${path}.origin`),
    seq: count(o.seq, `${path}.seq`),
    summaries: list(o.summaries, `${path}.summaries`, summary, 4096),
  };
}

function coordinate(v: unknown, path: string): Coordinate {
  const o = obj(v, path);
  return {
    vec: list(o.vec, `${path}.vec`, num, 16),
    height: num(o.height, `${path}.height`),
    error: num(o.error, `${path}.error`),
  };
}

function extras(v: unknown, path: string): MessageExtras {
  const o = obj(v, path);
  return pick<MessageExtras>({
    coordinate: opt(o, 'coordinate', path, coordinate),
    deltas: opt(o, 'deltas', path, (x, p) => list(x, p, delta, 256)),
  });
}

/** The message in `body` (parsed JSON), checked and copied; throws InvalidMessage naming the bad field. */
export function parseMeshMessage(body: unknown): MeshMessage {
  const o = obj(body, 'message');
  const updates = () => list(o.updates, 'updates', member);
  switch (o.kind) {
    case 'join':
      return { kind: 'join', from: member(o.from, 'from') };
    case 'join-reply':
      if (typeof o.accepted !== 'boolean') fail('accepted', 'must be true or false');
      return pick({
        kind: 'join-reply',
        from: str(o.from, 'from'),
        accepted: o.accepted,
        reason: opt(o, 'reason', 'message', (x, p) => str(x, p, 1000)),
        members: list(o.members, 'members', member, 65_536),
      });
    case 'ping':
      return pick({
        kind: 'ping',
        seq: count(o.seq, 'seq'),
        from: str(o.from, 'from'),
        requester: opt(o, 'requester', 'message', str),
        updates: updates(),
        extras: opt(o, 'extras', 'message', extras),
      });
    case 'ping-req':
      return {
        kind: 'ping-req',
        seq: count(o.seq, 'seq'),
        from: str(o.from, 'from'),
        target: member(o.target, 'target'),
        updates: updates(),
      };
    case 'ack':
      return pick({
        kind: 'ack',
        seq: count(o.seq, 'seq'),
        from: str(o.from, 'from'),
        target: opt(o, 'target', 'message', str),
        updates: updates(),
        extras: opt(o, 'extras', 'message', extras),
      });
    case 'nack':
      return { kind: 'nack', seq: count(o.seq, 'seq'), from: str(o.from, 'from'), target: str(o.target, 'target') };
    default:
      fail('kind', 'must be join, join-reply, ping, ping-req, ack or nack');
  }
}
