import { createServer, type Server } from 'node:http';
import type { AgentLogBatch } from '@flotilla/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentApi } from './api.ts';
import { LogUploader } from './log-uploader.ts';

// A loopback endpoint that is "down" (503) until told otherwise, and records what it accepted;
// `answer` picks the status of each upload once it is up.
async function endpoint(
  answer: (body: string, batch: AgentLogBatch) => number = () => 200,
  headers: Record<string, string> = {},
) {
  const state = {
    up: false,
    batches: [] as AgentLogBatch[],
    attempts: 0,
    sizes: [] as number[],
    times: [] as number[],
    tooLarge: 0,
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.attempts++;
      state.times.push(Date.now());
      const body = Buffer.concat(chunks).toString('utf8');
      if (!state.up) return void res.writeHead(503).end('{"error":{"code":"down","message":"down"}}');
      state.sizes.push(Buffer.byteLength(body));
      const batch = JSON.parse(body) as AgentLogBatch;
      const status = answer(body, batch);
      if (status === 413) state.tooLarge++;
      if (status !== 200) {
        return void res
          .writeHead(status, { 'content-type': 'application/json', ...headers })
          .end('{"error":{"code":"refused","message":"refused"}}');
      }
      state.batches.push(batch);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":1}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  return { state, server, url: `http://127.0.0.1:${addr.port}` };
}

const line = (i: number) => ({
  service: 'web',
  time: new Date(1_700_000_000_000 + i).toISOString(),
  level: 'info' as const,
  unit: '',
  stream: 'stdout' as const,
  message: `line ${i}`,
});

describe('LogUploader', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('holds lines through an outage in a bounded buffer, then sends them in order with the drop count', async () => {
    const ep = await endpoint();
    server = ep.server;
    const uploader = new LogUploader({
      api: new AgentApi(ep.url, 't'),
      instanceId: 'host-1',
      capacity: 5,
      batchSize: 3,
      flushIntervalMs: 20,
    });
    uploader.start();
    for (let i = 0; i < 8; i++) uploader.push(line(i));
    await new Promise((r) => setTimeout(r, 300));
    expect(ep.state.attempts).toBeGreaterThan(0);
    expect(ep.state.batches).toHaveLength(0);
    expect(uploader.dropped).toBeGreaterThanOrEqual(3);
    ep.state.up = true;
    const until = Date.now() + 10_000;
    while (uploader.pending > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await uploader.stop();
    const sent = ep.state.batches.flatMap((b) => b.lines.map((l) => l.message));
    // The first batch was taken before the drops; later lines keep their order; nothing is sent twice.
    expect(new Set(sent).size).toBe(sent.length);
    expect(sent.at(-1)).toBe('line 7');
    expect(sent.length + uploader.dropped).toBe(8);
    expect(ep.state.batches.reduce((n, b) => n + (b.dropped ?? 0), 0)).toBe(uploader.dropped);
    expect(uploader.uploaded).toBe(sent.length);
  });

  it('backs off during an outage however much output keeps arriving', async () => {
    const ep = await endpoint();
    server = ep.server;
    const uploader = new LogUploader({
      api: new AgentApi(ep.url, 't'),
      instanceId: 'host-1',
      batchSize: 1000,
      flushIntervalMs: 20,
    });
    uploader.start();
    // 100 lines every 50 ms for 1.5 s: from 0.5 s on a full batch waits at every burst, but the first
    // backoff is 1.6 s at least.
    for (let i = 0; i < 30; i++) {
      for (let j = 0; j < 100; j++) uploader.push(line(i * 100 + j));
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(ep.state.attempts).toBeGreaterThanOrEqual(1);
    expect(ep.state.attempts).toBeLessThanOrEqual(2);
    ep.state.up = true;
    const until = Date.now() + 10_000;
    while (uploader.pending > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await uploader.stop();
    const sent = ep.state.batches.flatMap((b) => b.lines.map((l) => l.message));
    expect(sent).toEqual(Array.from({ length: 3000 }, (_, i) => `line ${i}`));
    expect(uploader.dropped).toBe(0);
  });

  it("The agent can build a batch above the server's 8 MiB limit and then drops all 1,000 lines uncounted", async () => {
    // A server with the real limit: a body over 8 MiB is a 413 and nothing of it is kept.
    const limit = 8 * 1024 * 1024;
    const ep = await endpoint((body) => (body.length > limit ? 413 : 200));
    server = ep.server;
    ep.state.up = true;
    const uploader = new LogUploader({
      api: new AgentApi(ep.url, 't'),
      instanceId: 'host-1',
      flushIntervalMs: 10,
      maxBufferBytes: 64 * 1024 * 1024,
    });
    // 1,000 lines near the server's longest message: about 60 MiB, far above one batch.
    const long = 'y'.repeat(60_000);
    for (let i = 0; i < 1000; i++) uploader.push({ ...line(i), message: `${i} ${long}` });
    uploader.start();
    const until = Date.now() + 60_000;
    while (uploader.pending > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await uploader.stop();
    expect(ep.state.tooLarge).toBe(0);
    expect(Math.max(...ep.state.sizes)).toBeLessThanOrEqual(limit);
    expect(ep.state.batches.length).toBeGreaterThanOrEqual(8);
    const sent = ep.state.batches.flatMap((b) => b.lines.map((l) => Number(l.message.split(' ')[0])));
    expect(sent).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(uploader.dropped).toBe(0);
  });

  it('bounds the lines waiting by bytes too: drops the oldest, counts and reports them, keeps the order', async () => {
    const ep = await endpoint();
    server = ep.server;
    const uploader = new LogUploader({
      api: new AgentApi(ep.url, 't'),
      instanceId: 'host-1',
      maxBufferBytes: 64 * 1024,
      flushIntervalMs: 20,
    });
    uploader.start();
    // 100 lines of ~2 KiB during an outage: about 200 KiB for a 64 KiB budget.
    const big = (i: number) => ({ ...line(i), message: `${i} ${'b'.repeat(2000)}` });
    for (let i = 0; i < 100; i++) uploader.push(big(i));
    expect(uploader.bufferedBytes).toBeLessThanOrEqual(64 * 1024);
    expect(uploader.dropped).toBeGreaterThanOrEqual(65);
    ep.state.up = true;
    const until = Date.now() + 10_000;
    while (uploader.pending > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await uploader.stop();
    const sent = ep.state.batches.flatMap((b) => b.lines.map((l) => Number(l.message.split(' ')[0])));
    // The newest lines are kept, in order, whole; every other line is counted and reported.
    expect(sent).toEqual(Array.from({ length: sent.length }, (_, i) => 100 - sent.length + i));
    expect(ep.state.batches.flatMap((b) => b.lines).every((l, i) => l.message === big(sent[i] as number).message)).toBe(
      true,
    );
    expect(sent.length + uploader.dropped).toBe(100);
    expect(ep.state.batches.reduce((n, b) => n + (b.dropped ?? 0), 0)).toBe(uploader.dropped);
    expect(uploader.truncated).toBe(0);
  });

  it('truncates a single line over the batch limit, drops one that cannot fit, and counts every drop', async () => {
    const ep = await endpoint((_body, batch) => (batch.lines.some((l) => l.message === 'refused') ? 400 : 200));
    server = ep.server;
    ep.state.up = true;
    const uploader = new LogUploader({
      api: new AgentApi(ep.url, 't'),
      instanceId: 'host-1',
      maxBatchBytes: 1000,
      batchSize: 1,
      flushIntervalMs: 10,
    });
    uploader.push({ ...line(0), message: 'z'.repeat(5000) });
    // Its fields alone are over the limit: it cannot be sent whatever its message.
    uploader.push({ ...line(1), unit: 'u'.repeat(1200) });
    uploader.push({ ...line(2), message: 'refused' });
    uploader.push(line(3));
    uploader.start();
    const until = Date.now() + 10_000;
    while (uploader.pending > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await uploader.stop();
    const sent = ep.state.batches.flatMap((b) => b.lines);
    expect(sent.map((l) => l.message.slice(0, 6))).toEqual(['zzzzzz', 'line 3']);
    expect(sent[0]?.message.length).toBeLessThan(1000);
    expect(Math.max(...ep.state.sizes)).toBeLessThanOrEqual(1000 + 200);
    expect(uploader.truncated).toBe(1);
    // One line too large to send, one refused by the server: both counted and reported.
    expect(uploader.dropped).toBe(2);
    expect(ep.state.batches.reduce((n, b) => n + (b.dropped ?? 0), 0)).toBe(2);
  });

  it('waits as long as a 429 says, keeps the batch, and counts lines the full buffer drops meanwhile', async () => {
    let refusals = 1;
    const ep = await endpoint(() => (refusals-- > 0 ? 429 : 200), { 'retry-after': '1' });
    server = ep.server;
    ep.state.up = true;
    const uploader = new LogUploader({
      api: new AgentApi(ep.url, 't'),
      instanceId: 'host-1',
      capacity: 3,
      batchSize: 2,
      flushIntervalMs: 10,
    });
    uploader.push(line(0));
    uploader.push(line(1));
    uploader.start();
    while (ep.state.attempts < 1) await new Promise((r) => setTimeout(r, 5));
    // During the wait 5 more lines arrive for a buffer of 3: 2 are dropped.
    for (let i = 2; i < 7; i++) uploader.push(line(i));
    await new Promise((r) => setTimeout(r, 500));
    expect(ep.state.attempts).toBe(1);
    const until = Date.now() + 10_000;
    while (uploader.pending > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await uploader.stop();
    const [first = 0, second = 0] = ep.state.times;
    expect(second - first).toBeGreaterThanOrEqual(950);
    const sent = ep.state.batches.flatMap((b) => b.lines.map((l) => l.message));
    expect(sent).toEqual(['line 0', 'line 1', 'line 4', 'line 5', 'line 6']);
    expect(uploader.dropped).toBe(2);
    expect(ep.state.batches.reduce((n, b) => n + (b.dropped ?? 0), 0)).toBe(2);
  });
});
