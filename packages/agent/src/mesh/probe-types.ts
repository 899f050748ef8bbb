// Shapes shared by the prober (main thread), its worker thread, the summary book and the node that
// serves the echo path. Durations are seconds, wall times ms since the epoch.

/** The path every mesh node serves for the timed request; see `writeEchoResponse`. */
export const MESH_ECHO_PATH = '/mesh/v1/echo';
/** Body of the echo answer: short, fixed, so the request time is one round trip plus a tiny write. */
export const MESH_ECHO_BODY = 'flotilla-mesh-echo\n';
/** Response header naming the answering node, so a probe that reaches another node (address reused) fails. */
export const MESH_ECHO_NODE_HEADER = 'x-flotilla-mesh-node';

export type ProbePhase = 'dns' | 'connect' | 'tls' | 'request';
export const PROBE_PHASES: readonly ProbePhase[] = ['dns', 'connect', 'tls', 'request'];

export interface PhaseSample {
  phase: ProbePhase;
  ok: boolean;
  /** Seconds, present when ok. DNS of an IP literal is 0 with `literal` set. */
  seconds?: number;
  literal?: boolean;
  /** Short reason when not ok: 'timeout', an errno code ('ECONNREFUSED'), 'status 401', 'wrong-node'… */
  error?: string;
}

export interface ProbeResult {
  peer: string;
  address: string;
  /** Wall-clock start of the probe, ms since the epoch (the minute it counts in). */
  at: number;
  /** Phases measured by this probe, in order; a probe that opens no fresh connection has only 'request'. */
  samples: PhaseSample[];
  /** The worker's event loop stalled beyond the threshold while the probe ran: timings may be inflated. */
  stalled: boolean;
}

/** The worker's own event-loop delay over the last report interval, milliseconds. */
export interface EventLoopLag {
  /** Wall-clock end of the interval, ms since the epoch. */
  at: number;
  meanMs: number;
  /** Always set by the prober; optional so hand-made reports (tests) need not. */
  p50Ms?: number;
  p99Ms: number;
  maxMs: number;
  /** Stalls beyond the threshold seen in the interval. */
  stalls: number;
}

/** Probing over TLS: peers' certificates must chain to `ca`; with `cert` and `key` the prober presents them (mutual TLS). */
export interface ProbeTls {
  /** PEM: the CA(s) peers' certificates must chain to. */
  ca: string | Buffer | Array<string | Buffer>;
  /** PEM: this node's certificate and key; both or neither. */
  cert?: string | Buffer | undefined;
  key?: string | Buffer | undefined;
  /**
   * Fleet mode: peers must hold a mesh certificate of this environment naming the peer dialled
   * (`flotilla://<environment>/<instance>`), not only a certificate from the CA.
   */
  environment?: string | undefined;
}

export interface PeerAddress {
  name: string;
  /** host:port, [v6]:port or an http(s) URL base. */
  address: string;
}

/** Tunables of the worker; every field has a default (see probe-worker.ts). */
export interface ProbeSettings {
  intervalMs: number;
  maxPeersPerRound: number;
  /** Open a fresh connection (DNS, connect, TLS phases) every this many probes of a peer; 1 = every probe. */
  handshakeEvery: number;
  dnsTimeoutMs: number;
  connectTimeoutMs: number;
  tlsTimeoutMs: number;
  requestTimeoutMs: number;
  /** A loop delay above this marks results taken meanwhile as stalled. */
  stallThresholdMs: number;
  /** Share of the interval by which each round's start is moved at random (0.1 = ±10 %). */
  roundJitter: number;
}

export type ToProbeWorker = { type: 'peers'; peers: PeerAddress[] } | { type: 'stop' };

export type FromProbeWorker =
  | { type: 'results'; results: ProbeResult[] }
  | { type: 'lag'; lag: EventLoopLag }
  | { type: 'error'; message: string }
  | { type: 'stopped' };

export interface ProbeWorkerData {
  self: string;
  tls?: ProbeTls | undefined;
  token?: string | undefined;
  settings: ProbeSettings;
  peers: PeerAddress[];
}
