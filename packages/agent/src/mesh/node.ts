import type { MemberState, MemberUpdate, MeshClock, MeshMessage } from './contracts.ts';
import { createMembership } from './membership.ts';
import { memberChangeLine } from './membership-config.ts';
import { type MeshApi, startMeshApi } from './mesh-api.ts';
import { createMeshMetrics } from './mesh-metrics.ts';
import { startNodeMeasurement } from './node-measurement.ts';
import { apiSamples } from './node-samples.ts';
import { loadMeshTls, MeshConfigError, type MeshTlsInput } from './tls.ts';
import { type MeshTransport, startTransport } from './transport.ts';

// One standalone mesh node: membership (SWIM) and measurement composed over the HTTP(S) transport,
// with canary-bot's API beside them. Startup fails fast on bad flags, busy ports or a refused name.

export type MeshLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type MeshLog = (level: MeshLogLevel, message: string) => void;

export interface MeshNodeOptions {
  name: string;
  /** host:port of nodes to join through (tried in turn, retried until one answers). */
  targets: string[];
  /** host:port other nodes dial to reach this one. */
  joinAddress: string;
  listenAddress: string;
  listenPort: number;
  apiPort: number;
  tls?: MeshTlsInput;
  /** Tokens for the API port (at least one). */
  apiTokens: string[];
  /** Tokens for the mesh port; empty means no token is asked for there. */
  meshTokens: string[];
  /** Forget dead and left nodes (and their samples) a minute after they go. */
  cleanupNodes?: boolean;
  /** Keep samples 24 hours (otherwise 30 days; either way only the latest minute of each pair is served). */
  cleanupSamples?: boolean;
  log: MeshLog;
}

/** Another node already holds this name (or the join was refused for another stated reason). */
export class MeshJoinRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MeshJoinRefused';
  }
}

export interface MeshNode {
  name: string;
  meshPort: number;
  apiPort: number;
  members(): MemberUpdate[];
  /** Settles when the node stops by itself: rejects with MeshJoinRefused when its name was refused. */
  done: Promise<void>;
  /** Announces `left`, stops probing, closes both ports. */
  leave(): Promise<void>;
}

const CLEANUP_INTERVAL_MS = 60_000;
const SAMPLE_MAX_AGE_MS = 24 * 3600_000;
const SAMPLE_KEEP_MS = 30 * 24 * 3600_000;
const GONE_GRACE_MS = 60_000;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

const realClock: MeshClock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export async function startMeshNode(options: MeshNodeOptions): Promise<MeshNode> {
  const { name, log } = options;
  if (!NAME.test(name)) throw new MeshConfigError(`--name: "${name}" must be letters, digits, . _ - (at most 253)`);
  if (options.apiTokens.length === 0) throw new MeshConfigError('the API port needs at least one token');
  const tls = loadMeshTls(options.tls ?? {});
  if (!tls && options.meshTokens.length === 0) {
    log('warn', 'the mesh port is open: no certificates and no --token given, any host that reaches it can join');
  }
  const live = (m: MemberUpdate) => m.name !== name && (m.state === 'alive' || m.state === 'suspect');
  let membership: ReturnType<typeof createMembership> | undefined;
  const gone = new Map<string, number>();
  const metrics = createMeshMetrics({ nodeCount: () => membership?.members().filter(live).length ?? 0 });
  const maxAgeMs = options.cleanupSamples ? SAMPLE_MAX_AGE_MS : SAMPLE_KEEP_MS;
  /** Nodes gone (dead or left) past the grace minute: with --cleanup-nodes their samples are not served. */
  const forgotten = new Set<string>();

  let refuse: (error: Error) => void = () => {};
  const done = new Promise<void>((_, reject) => {
    refuse = reject;
  });
  done.catch(() => {});

  const measurement = startNodeMeasurement({
    self: name,
    tls,
    token: options.meshTokens[0],
    maxAgeMs,
    onProbe: (result) => metrics.observeProbe(result),
    onLag: (lag) => metrics.probeLag(lag),
    log,
  });
  let transport: MeshTransport | undefined;
  let api: MeshApi | undefined;
  try {
    transport = await startTransport({
      listenAddress: options.listenAddress,
      listenPort: options.listenPort,
      tls,
      tokens: options.meshTokens,
      onMessage: (message: MeshMessage) => membership?.receive(message),
      routes: measurement.routes,
      onDrop: (reason) => metrics.dropped(reason),
      onReachability: (address, reachable, reason) =>
        log(
          reachable ? 'info' : 'warn',
          reachable ? `${address} is reachable again` : `${address} is unreachable (${reason}); retrying`,
        ),
      debug: (message) => log('debug', message),
    });
    api = await startMeshApi({
      listenAddress: options.listenAddress,
      port: options.apiPort,
      tls,
      tokens: options.apiTokens,
      name,
      nodes: () => (membership?.members() ?? []).filter(live).map((m) => m.name),
      samples: () => apiSamples(measurement.summaries(), forgotten),
      metrics: () => metrics.text(),
    });
  } catch (error) {
    await transport?.close();
    await measurement.stop();
    metrics.stop();
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') {
      throw new MeshConfigError(`cannot listen on ${options.listenAddress}: ${e.message}`);
    }
    throw error;
  }
  const openTransport = transport;
  const openApi = api;

  const peersChanged = () => {
    const peers = (membership?.members() ?? []).filter(live).map((m) => ({ name: m.name, address: m.address }));
    measurement.setPeers(peers);
  };
  membership = createMembership({
    self: { name, address: options.joinAddress },
    clock: realClock,
    random: Math.random,
    send: openTransport.send,
    extrasFor: (peer) => measurement.extrasFor(peer),
    onExtras: (peer, extras) => measurement.onExtras(peer, extras),
    onMemberChange: (member: MemberUpdate, previous: MemberState | undefined) => {
      if (member.name === name) return;
      if (member.state === 'dead' || member.state === 'left') gone.set(member.name, Date.now());
      else {
        gone.delete(member.name);
        forgotten.delete(member.name);
      }
      const line = memberChangeLine(member.state, previous);
      log(line.level, `${member.name} (${member.address}) ${line.text}`);
      peersChanged();
    },
    onJoinRefused: (reason) => refuse(new MeshJoinRefused(reason)),
  });

  const cleanup = setInterval(() => {
    if (!options.cleanupNodes) return;
    for (const [node, since] of gone) {
      if (Date.now() - since < GONE_GRACE_MS || forgotten.has(node)) continue;
      forgotten.add(node);
      measurement.forget(node);
      metrics.forget(node);
    }
    // Past the sample age nothing of theirs is left to hide.
    for (const [node, since] of gone) {
      if (Date.now() - since > maxAgeMs) {
        gone.delete(node);
        forgotten.delete(node);
      }
    }
  }, CLEANUP_INTERVAL_MS);
  cleanup.unref();

  const targets = options.targets.filter((t) => t !== options.joinAddress);
  log(
    'info',
    `node ${name}: mesh port ${openTransport.port} (${tls ? `TLS, ${tls.mode}` : 'plain HTTP'}), API port ${openApi.port}`,
  );
  if (targets.length > 0) membership.join(targets);
  else log('info', 'no other target: waiting for nodes to join through this one');

  let leaving: Promise<void> | undefined;
  const shutdown = async (announce: boolean) => {
    clearInterval(cleanup);
    if (announce) {
      membership?.leave();
      // Let the `left` announcement go out before the port closes.
      await new Promise((r) => setTimeout(r, 300));
    }
    membership?.stop();
    const started = Date.now();
    await Promise.all([measurement.stop(), openApi.close()]);
    log('debug', `prober and API stopped in ${Date.now() - started} ms`);
    await openTransport.close();
    log('debug', `mesh port closed in ${Date.now() - started} ms`);
    metrics.stop();
  };
  done.catch(() => {
    leaving ??= shutdown(false);
  });
  return {
    name,
    meshPort: openTransport.port,
    apiPort: openApi.port,
    members: () => membership?.members() ?? [],
    done,
    leave: () => {
      leaving ??= shutdown(true);
      return leaving;
    },
  };
}
