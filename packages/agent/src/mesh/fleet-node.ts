import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { checkMeshPeer, meshServerIdentityCheck } from '@flotilla/protocol/mesh-peer';
import type { Coordinate, MemberUpdate, MeshClock, PairSummary } from './contracts.ts';
import { createMembership } from './membership.ts';
import { memberChangeLine } from './membership-config.ts';
import type { MeshLog } from './node.ts';
import { type EventLoopLag, type PeerAddress, type Prober, startProber, writeEchoResponse } from './probe-runner.ts';
import { MESH_ECHO_PATH } from './probe-types.ts';
import { createSummaryBook } from './summaries.ts';
import type { MeshTls } from './tls.ts';
import { type MeshTransport, startTransport } from './transport.ts';
import { createVivaldi } from './vivaldi.ts';

// A mesh node inside the fleet: the standalone node's parts (membership, transport, prober, summary
// book, coordinates) with the identity the server signed. Every connection is mutual TLS checked against
// the mesh CA and this environment; a renewed certificate is swapped in without leaving the mesh.

export interface FleetIdentity {
  /** PEM texts: this node's certificate and key, and the mesh CA. */
  certificate: string;
  key: string;
  ca: string;
}

export interface FleetNodeOptions {
  /** The instance id: the node's name in the mesh and its certificate's. */
  name: string;
  environment: string;
  listenAddress: string;
  listenPort: number;
  /** host:port peers dial; its port 0 means the port bound. */
  advertiseHost: string;
  identity: FleetIdentity;
  /** Peers probed per round (null: the default, 5). */
  maxPeersPerRound: number | null;
  /** Wait after a minute ends before its summaries close (tests shorten it). */
  closeGraceMs?: number;
  probeIntervalMs?: number;
  log: MeshLog;
}

export interface FleetNode {
  port: number;
  /** host:port other nodes dial. */
  address: string;
  members(): MemberUpdate[];
  /** The server's list of the environment's nodes: joins through those not yet known as live. */
  offerPeers(peers: { instance: string; address: string }[]): void;
  /** A renewed certificate (or a new probe budget): new connections use it, the node stays in the mesh. */
  update(identity: FleetIdentity, maxPeersPerRound: number | null): Promise<void>;
  /** Own per-minute summaries closed since the last call, oldest first. */
  takeClosed(): PairSummary[];
  /** The prober thread's event-loop lag reports since the last call. */
  takeLag(): EventLoopLag[];
  /** Announces `left`, stops probing, closes the port. */
  stop(): Promise<void>;
}

const realClock: MeshClock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
const MAX_COORDINATES = 65_536;
const MAX_LAG_REPORTS = 600;
// Unset, a node probes 5 peers a round (one round a second): each of 50 peers within 16 s, the two
// nearest every round, for under 2 % of a core (docs/benchmarks.md, "Mesh: agent"). Raise it per
// environment for finer figures; every probe a second costs about 0.2 % of a core.
const DEFAULT_PEERS_PER_ROUND = 5;

const tlsOf = (identity: FleetIdentity): MeshTls => ({
  mode: 'mutual',
  cert: Buffer.from(identity.certificate),
  key: Buffer.from(identity.key),
  ca: [Buffer.from(identity.ca)],
});

export async function startFleetNode(options: FleetNodeOptions): Promise<FleetNode> {
  const { name, environment, log } = options;
  let identity = options.identity;
  let maxPeers = options.maxPeersPerRound ?? DEFAULT_PEERS_PER_ROUND;
  const book = createSummaryBook(name, {
    maxAgeMs: 3_600_000,
    ...(options.closeGraceMs !== undefined ? { closeGraceMs: options.closeGraceMs } : {}),
  });
  const vivaldi = createVivaldi();
  const coordinates = new Map<string, Coordinate>();
  let lags: EventLoopLag[] = [];
  let peers: PeerAddress[] = [];
  let lastError = '';

  const newProber = (): Prober => {
    const prober = startProber({
      self: name,
      // The prober accepts only mesh certificates of this environment naming the peer it dialled.
      tls: { ca: identity.ca, cert: identity.certificate, key: identity.key, environment },
      intervalMs: options.probeIntervalMs ?? 1000,
      maxPeersPerRound: maxPeers,
      onResult: (result) => {
        book.add(result);
        const request = result.samples.find((s) => s.phase === 'request');
        const theirs = coordinates.get(result.peer);
        if (!result.stalled && request?.ok && request.seconds !== undefined && theirs) {
          vivaldi.observe(result.peer, request.seconds, theirs);
        }
      },
      onLag: (lag) => {
        lags.push(lag);
        if (lags.length > MAX_LAG_REPORTS) lags.shift();
      },
      onError: (message) => {
        if (message !== lastError) log('warn', `prober: ${message}`);
        lastError = message;
      },
    });
    prober.setPeers(peers);
    return prober;
  };
  let prober = newProber();

  // Parsed once per identity, not once per connection checked.
  let caCertificate = new X509Certificate(identity.ca);
  const check = { ca: () => caCertificate };
  let transport: MeshTransport;
  let membership: ReturnType<typeof createMembership> | undefined;
  try {
    transport = await startTransport({
      listenAddress: options.listenAddress,
      listenPort: options.listenPort,
      tls: tlsOf(identity),
      tokens: [],
      onMessage: (message) => membership?.receive(message),
      routes: { [MESH_ECHO_PATH]: (_req, res) => writeEchoResponse(res, name) },
      verifyClient: (socket: TLSSocket) => {
        const cert = socket.getPeerX509Certificate();
        if (!cert) throw new Error('no client certificate');
        checkMeshPeer(cert, { ca: check.ca(), environment });
      },
      checkServerIdentity: (host, cert) => meshServerIdentityCheck({ ca: check.ca(), environment })(host, cert),
      onReachability: (address, reachable, reason) =>
        log(
          reachable ? 'info' : 'warn',
          reachable ? `mesh: ${address} is reachable again` : `mesh: ${address} is unreachable (${reason}); retrying`,
        ),
      debug: (message) => log('debug', `mesh: ${message}`),
    });
  } catch (error) {
    await prober.stop();
    throw error;
  }
  const address = `${options.advertiseHost}:${transport.port}`;

  const live = (m: MemberUpdate) => m.name !== name && (m.state === 'alive' || m.state === 'suspect');
  const membersChanged = () => {
    peers = (membership?.members() ?? []).filter(live).map((m) => ({ name: m.name, address: m.address }));
    prober.setPeers(peers);
  };
  membership = createMembership({
    self: { name, address },
    clock: realClock,
    random: Math.random,
    send: transport.send,
    // In the fleet the server collects the summaries: probes carry only the coordinate, no deltas.
    extrasFor: () => ({ coordinate: vivaldi.coordinate() }),
    onExtras: (peer, extras) => {
      if (extras.coordinate && (coordinates.has(peer) || coordinates.size < MAX_COORDINATES)) {
        coordinates.set(peer, extras.coordinate);
      }
    },
    onMemberChange: (member, previous) => {
      if (member.name === name) return;
      const line = memberChangeLine(member.state, previous);
      log(line.level, `mesh: ${member.name} ${line.text}`);
      if (member.state === 'dead' || member.state === 'left') {
        book.forget(member.name);
        vivaldi.forget(member.name);
        coordinates.delete(member.name);
      }
      membersChanged();
    },
    // The server signed our name: another node holding it is an impostor or a stale record; say so.
    onJoinRefused: (reason) => log('error', `mesh: the join was refused: ${reason}`),
  });
  log('info', `mesh: node ${name} listening on ${address} (mutual TLS, environment ${environment})`);

  let stopping: Promise<void> | undefined;
  return {
    port: transport.port,
    address,
    members: () => membership?.members() ?? [],
    offerPeers(list) {
      if (stopping || !membership) return;
      const known = new Set(
        membership
          .members()
          .filter(live)
          .map((m) => m.name),
      );
      const missing = list.filter((p) => p.instance !== name && !known.has(p.instance)).map((p) => p.address);
      if (missing.length > 0 && known.size === 0) membership.join(missing);
      else if (missing.length > 0) membership.join(missing.slice(0, 3));
    },
    async update(next, nextMax) {
      const tlsChanged = next.certificate !== identity.certificate;
      const max = nextMax ?? DEFAULT_PEERS_PER_ROUND;
      identity = next;
      caCertificate = new X509Certificate(next.ca);
      if (tlsChanged) transport.setTls(tlsOf(next));
      if (!tlsChanged && max === maxPeers) return;
      maxPeers = max;
      // The prober's secure context is fixed at its start: a new thread takes over from the old one.
      const old = prober;
      prober = newProber();
      await old.stop();
    },
    takeClosed: () => book.takeClosed(),
    takeLag() {
      const out = lags;
      lags = [];
      return out;
    },
    stop() {
      stopping ??= (async () => {
        membership?.leave();
        // Let the `left` announcement go out before the port closes.
        await new Promise((r) => setTimeout(r, 300));
        membership?.stop();
        await prober.stop();
        await transport.close();
      })();
      return stopping;
    },
  };
}
