// Measurement for the mesh node: a prober in a worker thread and what its results become.
//
//   const prober = startProber({ self: 'eagle', tls: { ca, cert, key }, token, intervalMs: 1000,
//                                maxPeersPerRound: 20, onResult: (r) => book.add(r), onLag: (l) => … });
//   prober.setPeers([{ name: 'duck', address: '10.0.0.2:8081' }]);   // whenever membership changes
//   await prober.stop();
//
// Each round probes up to maxPeersPerRound peers (probe-plan.ts). A probe GETs MESH_ECHO_PATH on a
// kept-alive connection ('request' phase), and every `handshakeEvery` probes also opens a fresh
// connection first ('dns', 'connect', 'tls'). Nodes answer the path with writeEchoResponse
// (probe-echo.ts). With `tls`, the prober presents its certificate (mutual TLS) and accepts a peer whose
// certificate chains to `ca` and names the dialled host or the peer's mesh name; `token` is sent as a
// bearer token. Results (ProbeResult, probe-types.ts) feed createSummaryBook (summaries.ts); results flagged
// `stalled` were taken while the worker's loop stalled and are left out of summaries.

import { Worker } from 'node:worker_threads';
import { backoffDelay } from '../runtime/backoff.ts';
import type {
  EventLoopLag,
  FromProbeWorker,
  PeerAddress,
  ProbeResult,
  ProbeSettings,
  ProbeTls,
  ProbeWorkerData,
  ToProbeWorker,
} from './probe-types.ts';

export { MESH_RTT_BUCKETS } from './histogram-buckets.ts';
export { MESH_ECHO_BODY, MESH_ECHO_NODE_HEADER, MESH_ECHO_PATH, writeEchoResponse } from './probe-echo.ts';
export type { EventLoopLag, PeerAddress, PhaseSample, ProbePhase, ProbeResult, ProbeTls } from './probe-types.ts';

export interface ProberOptions extends Partial<ProbeSettings> {
  /** This node's mesh name (never probed). */
  self: string;
  tls?: ProbeTls | undefined;
  token?: string | undefined;
  intervalMs: number;
  maxPeersPerRound: number;
  onResult: (result: ProbeResult) => void;
  /** The worker's event-loop delay, once per round. */
  onLag?: (lag: EventLoopLag) => void;
  /** A peer that cannot be probed (bad address) or a fault in the worker; the prober goes on. */
  onError?: (message: string) => void;
}

export interface Prober {
  /** Replaces the peer list (self is ignored); a peer whose address changed gets a new connection. */
  setPeers(peers: PeerAddress[]): void;
  /** The latest event-loop delay report, if any. */
  lag(): EventLoopLag | undefined;
  /** Stops probing, closes every connection and ends the thread. */
  stop(): Promise<void>;
}

export const DEFAULT_PROBE_SETTINGS: ProbeSettings = {
  intervalMs: 1000,
  maxPeersPerRound: 20,
  handshakeEvery: 10,
  dnsTimeoutMs: 2000,
  connectTimeoutMs: 2000,
  tlsTimeoutMs: 2000,
  requestTimeoutMs: 2000,
  stallThresholdMs: 20,
  roundJitter: 0.1,
};

/** Test hook: ends the thread as a crash would (see probe-runner.test.ts). */
export const crashForTest = Symbol('crashForTest');

const workerUrl = new URL(`./probe-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

function settingsOf(options: ProberOptions): ProbeSettings {
  const settings = { ...DEFAULT_PROBE_SETTINGS };
  for (const key of Object.keys(DEFAULT_PROBE_SETTINGS) as Array<keyof ProbeSettings>) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new TypeError(`prober ${key} must be a non-negative number, got ${String(value)}`);
    }
    settings[key] = value;
  }
  if (settings.intervalMs < 10) throw new TypeError('prober intervalMs must be at least 10');
  settings.maxPeersPerRound = Math.max(1, Math.floor(settings.maxPeersPerRound));
  settings.handshakeEvery = Math.max(1, Math.floor(settings.handshakeEvery));
  return settings;
}

/**
 * Starts the prober thread. A thread that dies (a bug, memory limit) is started again after a
 * backoff with the latest peers; `stop()` ends it for good.
 */
export function startProber(options: ProberOptions): Prober {
  const settings = settingsOf(options);
  if (options.tls && !options.tls.cert !== !options.tls.key) {
    throw new TypeError('prober tls needs both cert and key, or neither');
  }
  let peers: PeerAddress[] = [];
  let lastLag: EventLoopLag | undefined;
  let stopped: Promise<void> | undefined;
  let restarts = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let worker: Worker;
  let exited: Promise<void>;

  function spawnWorker() {
    const init: ProbeWorkerData = { self: options.self, tls: options.tls, token: options.token, settings, peers };
    const started = Date.now();
    // A small young generation keeps the thread's resident memory down; the old-generation cap turns
    // a leak into a thread that dies and is started again, not a host out of memory.
    worker = new Worker(workerUrl, {
      workerData: init,
      name: 'flotilla-mesh-prober',
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 },
    });
    exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (message: FromProbeWorker) => {
      if (message.type === 'results') for (const result of message.results) options.onResult(result);
      else if (message.type === 'lag') {
        lastLag = message.lag;
        options.onLag?.(message.lag);
      } else if (message.type === 'error') options.onError?.(message.message);
    });
    worker.on('error', (error) => options.onError?.(`prober thread failed: ${error.message}`));
    worker.once('exit', (code) => {
      if (stopped) return;
      // A thread that ran a while before dying starts again at once; one that keeps dying, slower.
      restarts = Date.now() - started > 60_000 ? 0 : restarts + 1;
      const delay = backoffDelay(restarts, 1000, 60_000);
      options.onError?.(`prober thread exited (code ${code}); starting it again in ${Math.round(delay / 1000)} s`);
      restartTimer = setTimeout(() => {
        restartTimer = undefined;
        if (!stopped) spawnWorker();
      }, delay);
      restartTimer.unref();
    });
  }
  spawnWorker();

  return {
    setPeers(list) {
      peers = list.map(({ name, address }) => ({ name, address }));
      if (!stopped && !restartTimer) worker.postMessage({ type: 'peers', peers } satisfies ToProbeWorker);
    },
    lag: () => lastLag,
    stop() {
      if (stopped) return stopped;
      if (restartTimer) {
        clearTimeout(restartTimer);
        stopped = Promise.resolve();
        return stopped;
      }
      worker.postMessage({ type: 'stop' } satisfies ToProbeWorker);
      // In-flight probes end within their timeouts; past that the thread is terminated.
      const limit =
        settings.dnsTimeoutMs + settings.connectTimeoutMs + settings.tlsTimeoutMs + settings.requestTimeoutMs;
      const timer = setTimeout(() => void worker.terminate(), limit + 1000);
      stopped = exited.finally(() => clearTimeout(timer));
      return stopped;
    },
    /** For tests: ends the thread as a crash would. */
    [crashForTest]: () => void worker.terminate(),
  } as Prober;
}
