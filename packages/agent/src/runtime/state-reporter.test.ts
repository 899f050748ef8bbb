import { createServer, type Server } from 'node:http';
import type { AgentStateReport } from '@flotilla/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../supervisor/fixtures.test.helper.ts';
import { AgentApi } from './api.ts';
import { StateReporter } from './state-reporter.ts';

describe('StateReporter', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('coalesces a burst into one report, and follows a report asked for mid-send with exactly one more', async () => {
    const received: AgentStateReport[] = [];
    let release: (() => void) | null = null;
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        received.push(JSON.parse(body));
        const answer = () => res.writeHead(204).end();
        if (received.length === 2) release = answer;
        else answer();
      });
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('no address');
    let n = 0;
    const reporter = new StateReporter(
      new AgentApi(`http://127.0.0.1:${addr.port}`, 't'),
      () => ({ instanceId: 'h', services: [{ service: 's', failureCount: ++n }] }),
      () => {},
      30,
    );
    // Waits on arrivals, not on time; the counter in each report tells how many were built.
    for (let i = 0; i < 10; i++) reporter.schedule();
    await waitFor(() => received.length === 1, 10_000, 'the report of the burst');

    const first = reporter.send(); // held by the server
    await waitFor(() => release !== null, 10_000, 'the held report to arrive');
    void reporter.send();
    void reporter.send();
    (release as (() => void) | null)?.();
    await first;
    expect(received).toHaveLength(3);
    expect(received.map((r) => r.services[0]?.failureCount)).toEqual([1, 2, 3]);
    await reporter.close();
    expect(received).toHaveLength(4);
  });
});
