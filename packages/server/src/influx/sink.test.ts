import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMetrics } from '../metrics/metrics.ts';
import type { SinkLogger } from './registration.ts';
import { checkin, closedPort, memoryLogger, sinkCounts, slowServer } from './sink.test.helper.ts';
import { createInfluxSink, type InfluxSink } from './sink.ts';

// These need no InfluxDB: a closed loopback port or a fake slow server stands in for it.
let sinks: InfluxSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.map((s) => s.close(100)));
  sinks = [];
});

function sink(options: Partial<Parameters<typeof createInfluxSink>[0]> & { url: string }) {
  const metrics = createMetrics(new Registry());
  const logger = memoryLogger();
  const s = createInfluxSink({ logger, metrics, flushIntervalMs: 60_000, ...options });
  sinks.push(s);
  return { sink: s, metrics, logger };
}

describe('InfluxDB sink without a server', () => {
  it('accepts a pino logger', () => {
    const logger: SinkLogger = pino({ level: 'silent' });
    expect(typeof logger.warn).toBe('function');
  });

  it('keeps enqueue working while InfluxDB is down, then drops after the retries', async () => {
    const {
      sink: s,
      metrics,
      logger,
    } = sink({
      url: `http://127.0.0.1:${await closedPort()}`,
      maxRetries: 3,
      retryBaseMs: 5,
    });
    for (let i = 0; i < 20; i++) expect(() => s.enqueue(checkin())).not.toThrow();
    expect((await sinkCounts(metrics)).depth).toBe(20);
    await s.flush();
    expect(await sinkCounts(metrics)).toMatchObject({ depth: 0, written: 0, writeFailed: 20, writeErrors: 4 });
    expect(logger.messages('warn')).toEqual([expect.stringMatching(/^InfluxDB: dropped 20 points: /)]);
    const warn = logger.entries.find((e) => e.level === 'warn');
    expect(warn?.obj).toMatchObject({ reason: expect.stringMatching(/ECONNREFUSED.*after 4 attempts/) });
  });

  it('counts points beyond the queue limit as dropped', async () => {
    const { sink: s, metrics } = sink({ url: `http://127.0.0.1:${await closedPort()}`, queueLimit: 10, maxRetries: 0 });
    for (let i = 0; i < 25; i++) s.enqueue(checkin());
    expect(await sinkCounts(metrics)).toMatchObject({ depth: 10, queueFull: 15 });
    await s.flush();
    expect(await sinkCounts(metrics)).toMatchObject({ depth: 0, queueFull: 15, writeFailed: 10, writeErrors: 1 });
  });

  it('never throws from enqueue, even for a record it cannot encode', () => {
    const { sink: s } = sink({ url: 'http://127.0.0.1:9' });
    const bad = checkin({ time: Number.NaN });
    expect(() => s.enqueue(bad)).not.toThrow();
    expect(() => s.enqueue(null as never)).not.toThrow();
  });

  it('does not let a slow InfluxDB slow down enqueue', async () => {
    const slow = await slowServer(2000);
    try {
      const { sink: s, metrics } = sink({ url: slow.url, batchSize: 1000, flushIntervalMs: 10 });
      const record = (i: number) => checkin({ tags: { kubernetesVersion: 'v1.28.1' }, fields: { nodeCount: i } });
      // Also warms up the encoder, so that the timing below is the steady state.
      for (let i = 0; i < 5000; i++) s.enqueue(record(i));
      await vi.waitFor(() => expect(slow.requests()).toBe(1));
      // A write is now stuck for 2 s; enqueue must not notice.
      const records = Array.from({ length: 10_000 }, (_, i) => record(i));
      const started = performance.now();
      for (const r of records) s.enqueue(r);
      expect(performance.now() - started).toBeLessThan(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
      // One request at a time: the rest waits in the queue.
      expect(slow.requests()).toBe(1);
      expect((await sinkCounts(metrics)).depth).toBe(14_000);
      await s.close(100);
      expect(await sinkCounts(metrics)).toMatchObject({ depth: 0, written: 0, writeFailed: 15_000 });
    } finally {
      await slow.close();
    }
  });

  it('refuses bad app names and periods', async () => {
    const { sink: s } = sink({ url: 'http://127.0.0.1:9' });
    await expect(s.registerApp({ name: 'my-app', queryPeriodMs: 3600_000, tagKeys: [] })).rejects.toThrow(
      /invalid app name "my-app".*\[A-Za-z0-9_\]\+/,
    );
    await expect(s.registerApp({ name: 'app', queryPeriodMs: 0, tagKeys: [] })).rejects.toThrow(/invalid query period/);
  });

  it('counts check-ins that arrive after close as dropped', async () => {
    const { sink: s, metrics } = sink({ url: 'http://127.0.0.1:9' });
    await s.close(100);
    s.enqueue(checkin());
    expect((await sinkCounts(metrics)).writeFailed).toBe(1);
  });
});
