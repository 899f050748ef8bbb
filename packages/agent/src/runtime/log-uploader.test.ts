import { createServer, type Server } from 'node:http';
import type { AgentLogBatch } from '@flotilla/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentApi } from './api.ts';
import { LogUploader } from './log-uploader.ts';

// A loopback endpoint that is "down" (503) until told otherwise, and records what it accepted.
async function endpoint() {
  const state = { up: false, batches: [] as AgentLogBatch[], attempts: 0 };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      state.attempts++;
      if (!state.up) return void res.writeHead(503).end('{"error":{"code":"down","message":"down"}}');
      state.batches.push(JSON.parse(body));
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
});
