import type { Coordinate, MessageExtras, PairSummary } from './contracts.ts';
import type { MeshLog } from './node.ts';
import {
  type EventLoopLag,
  type PeerAddress,
  type ProbeResult,
  startProber,
  writeEchoResponse,
} from './probe-runner.ts';
import { MESH_ECHO_PATH } from './probe-types.ts';
import { createSummaryBook } from './summaries.ts';
import type { MeshTls } from './tls.ts';
import type { RouteHandler } from './transport.ts';
import { createVivaldi } from './vivaldi.ts';

// The node's measurement side: the prober (worker thread) feeds the summary book and the node's
// coordinate; probes and acks carry this node's summary deltas and coordinate, and bring the peer's.

export interface NodeMeasurementOptions {
  self: string;
  tls: MeshTls | undefined;
  /** Bearer token for the peers' mesh ports, when they ask for one. */
  token: string | undefined;
  /** Summaries older than this are dropped. */
  maxAgeMs: number;
  onProbe: (result: ProbeResult) => void;
  onLag: (lag: EventLoopLag) => void;
  log: MeshLog;
}

export interface NodeMeasurement {
  /** Paths the mesh port serves for the prober (the echo). */
  routes: Record<string, RouteHandler>;
  setPeers(peers: PeerAddress[]): void;
  extrasFor(peer: string): MessageExtras | undefined;
  onExtras(peer: string, extras: MessageExtras): void;
  /** Latest summary per pair and phase, this node's and the others'. */
  summaries(): PairSummary[];
  forget(peer: string): void;
  stop(): Promise<void>;
}

/** Most peer coordinates remembered: one per member, bounded against a flood of names. */
const MAX_COORDINATES = 65_536;

export function startNodeMeasurement(options: NodeMeasurementOptions): NodeMeasurement {
  const { self, tls, log } = options;
  const book = createSummaryBook(self, { maxAgeMs: options.maxAgeMs });
  const vivaldi = createVivaldi();
  const coordinates = new Map<string, Coordinate>();
  // The prober presents the node's certificate only in mutual mode; otherwise it dials as the peers serve.
  const proberTls =
    tls?.mode === 'mutual' && tls.ca && tls.cert && tls.key ? { ca: tls.ca, cert: tls.cert, key: tls.key } : undefined;
  let lastError = '';
  const prober = startProber({
    self,
    tls: proberTls,
    token: options.token,
    intervalMs: 1000,
    maxPeersPerRound: 20,
    onResult: (result) => {
      book.add(result);
      options.onProbe(result);
      const request = result.samples.find((s) => s.phase === 'request');
      const theirs = coordinates.get(result.peer);
      if (!result.stalled && request?.ok && request.seconds !== undefined && theirs) {
        vivaldi.observe(result.peer, request.seconds, theirs);
      }
    },
    onLag: options.onLag,
    onError: (message) => {
      // Logged once per change, not once per probe.
      if (message !== lastError) log('warn', `prober: ${message}`);
      lastError = message;
    },
  });
  return {
    routes: {
      [MESH_ECHO_PATH]: (_req, res) => writeEchoResponse(res, self),
    },
    // Without mutual TLS the prober has no secure context: an https:// address makes it dial TLS with the
    // system's roots (server mode; edge mode too, where a CA-only context would be better).
    setPeers: (peers) =>
      prober.setPeers(
        tls && !proberTls ? peers.map((p) => ({ name: p.name, address: `https://${p.address}` })) : peers,
      ),
    extrasFor(peer) {
      const delta = book.deltaFor(peer);
      return { coordinate: vivaldi.coordinate(), ...(delta ? { deltas: [delta] } : {}) };
    },
    onExtras(peer, extras) {
      if (extras.coordinate && (coordinates.has(peer) || coordinates.size < MAX_COORDINATES)) {
        coordinates.set(peer, extras.coordinate);
      }
      for (const delta of extras.deltas ?? []) book.receive(peer, delta);
    },
    summaries: () => book.pairs(),
    forget(peer) {
      book.forget(peer);
      vivaldi.forget(peer);
      coordinates.delete(peer);
    },
    stop: () => prober.stop(),
  };
}
