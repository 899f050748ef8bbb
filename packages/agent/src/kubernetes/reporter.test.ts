// The drift reporter against a local server that records what it receives and answers as told.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DriftReport, DriftSubjectReport } from '@flotilla/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type DriftReporter, type ReporterOptions, startReporter } from './reporter.ts';

interface Received {
  at: number;
  authorization: string | undefined;
  path: string;
  body: DriftReport;
}

let received: Received[];
let answers: { status: number; headers?: Record<string, string>; body?: unknown }[];
let server: ReturnType<typeof createServer>;
let url: string;
let reporters: DriftReporter[];

beforeEach(async () => {
  received = [];
  answers = [];
  reporters = [];
  server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({
      at: Date.now(),
      authorization: req.headers.authorization,
      path: req.url ?? '',
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as DriftReport,
    });
    const answer = answers.shift() ?? { status: 200, body: { stored: 1, removed: 0 } };
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(JSON.stringify(answer.body ?? {}));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await Promise.all(reporters.map((r) => r.close(100)));
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function start(options: Partial<ReporterOptions> = {}) {
  const logs: string[] = [];
  const reporter = startReporter({
    server: `${url}/`,
    token: 'agent-token',
    agentId: 'prod-eu-1',
    tags: { env: 'prod' },
    debounceMs: 100,
    backoffMs: 50,
    log: (level, message) => logs.push(`${level} ${message}`),
    ...options,
  });
  reporters.push(reporter);
  return { reporter, logs };
}

const subject = (version: string): DriftSubjectReport => ({
  subject: 'web',
  namespace: 'opvic',
  versions: [{ runningVersion: version, resourceCount: 1, resourceKind: 'Pods' }],
  upstream: null,
  error: null,
});
const within = { timeout: 3000, interval: 10 };

describe('drift reporter', () => {
  it('sends one complete report for a burst of changes, with the agent token, the latest winning', async () => {
    const { reporter } = start();
    for (let i = 0; i < 100; i++) reporter.update([subject(`1.0.${i}`)]);
    await vi.waitFor(() => expect(received).toHaveLength(1), within);
    await sleep(300);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      authorization: 'Bearer agent-token',
      path: '/api/v1/drift/reports',
      body: { agentId: 'prod-eu-1', tags: { env: 'prod' }, subjects: [subject('1.0.99')], complete: true },
    });
    expect(reporter.stats).toEqual({ reports: 1, heartbeats: 0, failures: 0, refused: 0 });
  });

  it('sends a heartbeat without subjects when nothing changed', async () => {
    const { reporter } = start({ heartbeatMs: 150 });
    // The server records a request before the reporter has read its answer: wait for both.
    await vi.waitFor(() => expect(reporter.stats.heartbeats).toBeGreaterThanOrEqual(2), within);
    expect(received[0]?.body).toEqual({ agentId: 'prod-eu-1', tags: { env: 'prod' } });
    expect(received[1]?.body).toEqual({ agentId: 'prod-eu-1', tags: { env: 'prod' } });
  });

  it('retries with backoff and Retry-After; a newer report replaces the failed one', async () => {
    answers.push({ status: 503 }, { status: 429, headers: { 'retry-after': '1' } });
    const { reporter, logs } = start();
    reporter.update([subject('1.0.0')]);
    await vi.waitFor(() => expect(received).toHaveLength(2), within);
    reporter.update([subject('2.0.0')]);
    await vi.waitFor(() => expect(received).toHaveLength(3), within);
    const [first, second, third] = received as [Received, Received, Received];
    expect(second.at - first.at).toBeGreaterThanOrEqual(40);
    expect(third.at - second.at).toBeGreaterThanOrEqual(950);
    expect(third.body.subjects).toEqual([subject('2.0.0')]);
    expect(logs.filter((l) => l.startsWith('warn drift report failed'))).toHaveLength(2);
    expect(logs[0]).toMatch(/HTTP 503/);
    await vi.waitFor(() => expect(reporter.stats).toMatchObject({ reports: 1, failures: 2 }), within);
  });

  it('drops a report the server refuses as invalid, saying why, and keeps going', async () => {
    answers.push({ status: 400, body: { error: { code: 'invalid', message: 'subjects[0].subject: required' } } });
    const { reporter, logs } = start();
    reporter.update([subject('1.0.0')]);
    await vi.waitFor(() => expect(reporter.stats.refused).toBe(1), within);
    expect(logs).toContain(
      'error the server refused the drift report, dropped: HTTP 400: subjects[0].subject: required',
    );
    await sleep(200);
    expect(received).toHaveLength(1);
    reporter.update([subject('1.0.1')]);
    await vi.waitFor(() => expect(reporter.stats.reports).toBe(1), within);
  });

  it('keeps retrying an unreachable server, then delivers', async () => {
    const { reporter } = start({ server: 'http://127.0.0.1:1', backoffMs: 20, maxBackoffMs: 40 });
    reporter.update([subject('1.0.0')]);
    await vi.waitFor(() => expect(reporter.stats.failures).toBeGreaterThanOrEqual(3), within);
    expect(reporter.stats.reports).toBe(0);
  });

  it('close() sends the pending report at once, and nothing afterwards', async () => {
    const { reporter } = start({ debounceMs: 60_000, heartbeatMs: 100 });
    reporter.update([subject('3.0.0')]);
    await reporter.close();
    expect(received.map((r) => r.body.subjects)).toEqual([[subject('3.0.0')]]);
    await sleep(300);
    expect(received).toHaveLength(1);
  });

  it('reports at most the subject cap, then not as complete', async () => {
    const { reporter, logs } = start();
    const many = Array.from({ length: 2001 }, (_, i) => ({ ...subject('1.0.0'), subject: `s${i}` }));
    reporter.update(many);
    await vi.waitFor(() => expect(received).toHaveLength(1), within);
    expect(received[0]?.body.subjects).toHaveLength(2000);
    expect(received[0]?.body.complete).toBe(false);
    expect(logs.some((l) => l.includes('2001 subjects'))).toBe(true);
  });
});
