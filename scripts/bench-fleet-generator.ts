// One load-generator process of `npm run bench:fleet` (forked by scripts/bench-fleet.ts): simulates
// agents as real HTTP clients. Each enrols with the shared agent token, then long-polls its desired
// list on a kept-alive connection, and every --report-interval seconds reports its state and uploads a
// few log lines on a connection it closes afterwards, so a parked agent holds one socket on the server.
// Each agent has its own 127.x.y.z source address, so neither side runs out of ports.
import { Agent, request } from 'node:http';

export interface GeneratorConfig {
  url: string;
  token: string;
  /** The first agent's number; agents are named fleet-<n>. */
  first: number;
  count: number;
  environment: string;
  reportIntervalMs: number;
  /** Agents started per second by this process. */
  rampPerSecond: number;
}

export type ToGenerator =
  | { type: 'start'; config: GeneratorConfig }
  /** From now on, report latencies count (the ramp's enrolments are over). */
  | { type: 'measure' }
  | { type: 'expect'; version: string }
  | { type: 'stop' };

export type FromGenerator =
  | { type: 'progress'; parked: number; enrolled: number; errors: number; lastError?: string }
  /** When each agent got the version (epoch ms), reported once all have or after 60 s. */
  | { type: 'woken'; version: string; at: number[] }
  | {
      type: 'stats';
      reports: number[];
      /** Reports measured before the first change: the fleet at rest. */
      reportsSteady: number[];
      reportErrors: number;
      pollErrors: number;
      reportsDuringWake: number[];
    };

interface Answer {
  status: number;
  body: string;
  etag?: string;
}

function call(
  url: URL,
  method: string,
  path: string,
  options: { agent?: Agent; localAddress: string; auth: string; body?: string; etag?: string; timeoutMs: number },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${options.auth}` };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.etag) headers['if-none-match'] = options.etag;
    if (!options.agent) headers.connection = 'close';
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers,
        localAddress: options.localAddress,
        ...(options.agent ? { agent: options.agent } : { agent: false }),
        timeout: options.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const etag = res.headers.etag;
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), ...(etag ? { etag } : {}) });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sourceAddress = (n: number) => `127.${1 + ((n >> 16) & 127)}.${(n >> 8) & 255}.${1 + (n & 127)}`;

function run(config: GeneratorConfig) {
  const url = new URL(config.url);
  const post = (message: FromGenerator) => process.send?.(message);
  let stopping = false;
  let parked = 0;
  let enrolled = 0;
  let errors = 0;
  let lastError: string | undefined;
  let pollErrors = 0;
  let reportErrors = 0;
  const reports: number[] = [];
  const reportsDuringWake: number[] = [];
  const reportsSteady: number[] = [];
  let changed = false;
  let measuring = false;
  let expected: { version: string; since: number; at: number[]; left: number } | undefined;

  const fail = (e: unknown) => {
    errors++;
    lastError = (e as Error).message;
  };

  async function agentLoop(n: number) {
    const localAddress = sourceAddress(n);
    const instanceId = `fleet-${n}`;
    let credential: string | undefined;
    while (!credential && !stopping) {
      try {
        const answer = await call(url, 'POST', '/api/v1/agent/enroll', {
          localAddress,
          auth: config.token,
          body: JSON.stringify({ instanceId }),
          timeoutMs: 60_000,
        });
        if (answer.status !== 201) throw new Error(`enrol: ${answer.status} ${answer.body.slice(0, 200)}`);
        credential = (JSON.parse(answer.body) as { credential: string }).credential;
      } catch (e) {
        fail(e);
        await sleep(1000 + Math.random() * 1000);
      }
    }
    if (!credential) return;
    enrolled++;
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    void reportLoop(instanceId, credential, localAddress);
    let etag: string | undefined;
    let version: string | undefined;
    let counted = false;
    while (!stopping) {
      try {
        const answer = await call(url, 'GET', '/api/v1/agent/desired?wait=60s', {
          agent: keepAlive,
          localAddress,
          auth: credential,
          ...(etag ? { etag } : {}),
          timeoutMs: 90_000,
        });
        if (answer.status === 200) {
          etag = answer.etag;
          const view = JSON.parse(answer.body) as { services: { service: string; version: string }[] };
          version = view.services.find((s) => s.service === 'app')?.version;
          if (expected && version === expected.version && expected.left > 0) {
            expected.at.push(Date.now());
            expected.left--;
          }
        } else if (answer.status !== 304) throw new Error(`poll: ${answer.status} ${answer.body.slice(0, 200)}`);
        if (!counted) {
          counted = true;
          parked++;
        }
      } catch (e) {
        pollErrors++;
        fail(e);
        await sleep(1000 + Math.random() * 2000);
      }
    }
    keepAlive.destroy();
  }

  async function reportLoop(instanceId: string, credential: string, localAddress: string) {
    await sleep(Math.random() * config.reportIntervalMs);
    while (!stopping) {
      const started = performance.now();
      const now = new Date().toISOString();
      try {
        const state = await call(url, 'POST', '/api/v1/agent/state', {
          localAddress,
          auth: credential,
          body: JSON.stringify({
            instanceId,
            labels: { zone: `z${instanceId.length % 3}` },
            services: [{ service: 'app', version: '1.0.0', state: 'running', failureCount: 0 }],
          }),
          timeoutMs: 60_000,
        });
        if (state.status !== 204) throw new Error(`state: ${state.status} ${state.body.slice(0, 200)}`);
        const elapsed = performance.now() - started;
        if (measuring) reports.push(elapsed);
        if (measuring && !changed) reportsSteady.push(elapsed);
        if (expected && expected.left > 0) reportsDuringWake.push(elapsed);
        const lines = [0, 1, 2].map((i) => ({
          service: 'app',
          time: now,
          level: 'info',
          unit: 'app',
          stream: 'stdout',
          message: `request ${i} served in ${(Math.random() * 20).toFixed(1)} ms`,
        }));
        const logs = await call(url, 'POST', '/api/v1/agent/logs', {
          localAddress,
          auth: credential,
          body: JSON.stringify({ instanceId, lines }),
          timeoutMs: 60_000,
        });
        if (logs.status >= 300) throw new Error(`logs: ${logs.status} ${logs.body.slice(0, 200)}`);
      } catch (e) {
        reportErrors++;
        fail(e);
      }
      const next = config.reportIntervalMs - (performance.now() - started) + (Math.random() - 0.5) * 1000;
      await sleep(Math.max(0, next));
    }
  }

  const progress = setInterval(() => {
    post({ type: 'progress', parked, enrolled, errors, ...(lastError ? { lastError } : {}) });
    if (expected && (expected.left === 0 || Date.now() - expected.since > 60_000)) {
      post({ type: 'woken', version: expected.version, at: expected.at });
      expected = undefined;
    }
  }, 250);

  void (async () => {
    const gap = 1000 / config.rampPerSecond;
    const start = performance.now();
    for (let i = 0; i < config.count && !stopping; i++) {
      void agentLoop(config.first + i);
      const due = start + (i + 1) * gap - performance.now();
      if (due > 0) await sleep(due);
    }
  })();

  process.on('message', (message: ToGenerator) => {
    if (message.type === 'measure') measuring = true;
    else if (message.type === 'expect') {
      changed = true;
      expected = { version: message.version, since: Date.now(), at: [], left: config.count };
    } else if (message.type === 'stop') {
      stopping = true;
      clearInterval(progress);
      post({ type: 'stats', reports, reportsSteady, reportErrors, pollErrors, reportsDuringWake });
      // Parked polls end when the process exits; nothing else to flush.
      setTimeout(() => process.exit(0), 200);
    }
  });
}

process.once('message', (message: ToGenerator) => {
  if (message.type === 'start') run(message.config);
});
