import type { AgentApi } from '../runtime/api.ts';
import { ApiError, isTransient } from '../runtime/api.ts';
import { backoffDelay, sleep } from '../runtime/backoff.ts';
import { type FleetMeshClient, fleetMeshClient } from './fleet-client.ts';
import type { FleetIdentity, FleetNode } from './fleet-node.ts';
import { loopLagOf, reportOf, summaryQueue } from './fleet-report.ts';
import type { MeshLog } from './node.ts';

// The agent as a mesh node (docs/mesh.md, "Fleet mode: the agent"). The agent asks the server whether
// the mesh is on for its environment; only then does it load the node, make a key, get it signed and
// join the peers the server lists. Closed minutes go to the server; switching the mesh off stops the node.

export interface FleetMeshOptions {
  /** The agent's API (its instance credential), or a client for tests. */
  api: AgentApi | FleetMeshClient;
  instanceId: string;
  /** Where the node listens; a wildcard host advertises the host's first non-loopback IPv4 address. */
  listen: { host: string; port: number };
  log: MeshLog;
  /** How often the peer list (and the on/off switch) is read. Default 30 s. */
  pollMs?: number;
  /** How often closed minutes are sent to the server. Default 60 s. */
  flushMs?: number;
  /** Wait after a minute ends before it closes (tests shorten it). */
  closeGraceMs?: number;
  /** Summaries waiting for the server at most; past it the oldest are dropped and counted. Default 50,000. */
  maxQueued?: number;
}

export interface FleetMeshStats {
  running: boolean;
  address: string | null;
  members: number;
  queued: number;
  sent: number;
  dropped: number;
}

export interface FleetMesh {
  stats(): FleetMeshStats;
  /** Leaves the mesh (when in it), sends what is closed (briefly), stops polling. */
  stop(): Promise<void>;
}

/** Summaries in one report (the protocol's meshLimits.summaries; not imported, to keep the agent light). */
const BATCH = 5000;

const isClient = (api: AgentApi | FleetMeshClient): api is FleetMeshClient => 'peers' in api;

/** The address peers dial: the listen host, or for a wildcard the first external IPv4 address. */
export async function advertisedHost(host: string): Promise<string> {
  if (host !== '0.0.0.0' && host !== '::' && host !== '') return host.includes(':') ? `[${host}]` : host;
  const { networkInterfaces } = await import('node:os');
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** Port 0 asks for a free port up front: the certificate request names the address before the node starts. */
async function concretePort(host: string, port: number): Promise<number> {
  if (port !== 0) return port;
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const free = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return free;
}

function environmentOf(uri: string): string {
  return decodeURIComponent(new URL(uri).host);
}

export function startFleetMesh(options: FleetMeshOptions): FleetMesh {
  const { log, instanceId } = options;
  const client = isClient(options.api) ? options.api : fleetMeshClient(options.api);
  const pollMs = options.pollMs ?? 30_000;
  const flushMs = options.flushMs ?? 60_000;
  const queue = summaryQueue(options.maxQueued ?? 50_000);
  const stopping = new AbortController();
  let node: FleetNode | null = null;
  let renewAt = 0;
  let maxPeers: number | null = null;
  let sent = 0;
  let rejected = 0;
  let lastProblem = '';

  /** Logged once per change of the problem, not once per retry. */
  const problem = (what: string) => {
    if (what !== lastProblem) log('warn', what);
    lastProblem = what;
  };

  const identity = async (address: string, port: number) => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const signed = await client.certificate(pub, `${address}:${port}`, stopping.signal);
    const id: FleetIdentity = {
      certificate: signed.certificate,
      key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      ca: signed.caCertificate,
    };
    renewAt = Date.parse(signed.renewAfter);
    return { id, environment: environmentOf(signed.uri), maxPeersPerRound: signed.maxPeersPerRound };
  };

  const start = async () => {
    const host = await advertisedHost(options.listen.host);
    const port = await concretePort(options.listen.host, options.listen.port);
    const signed = await identity(host, port);
    // Loaded only now: an agent whose environment has no mesh never loads the node.
    const { startFleetNode } = await import('./fleet-node.ts');
    if (stopping.signal.aborted) return;
    maxPeers = signed.maxPeersPerRound;
    node = await startFleetNode({
      name: instanceId,
      environment: signed.environment,
      listenAddress: options.listen.host,
      listenPort: port,
      advertiseHost: host,
      identity: signed.id,
      maxPeersPerRound: maxPeers,
      ...(options.closeGraceMs !== undefined ? { closeGraceMs: options.closeGraceMs } : {}),
      log,
    });
  };

  const renew = async (current: FleetNode) => {
    const [host, port] = [current.address.slice(0, current.address.lastIndexOf(':')), current.port];
    const signed = await identity(host, port);
    maxPeers = signed.maxPeersPerRound;
    await current.update(signed.id, maxPeers);
    log('info', `mesh: certificate renewed, next renewal ${new Date(renewAt).toISOString()}`);
  };

  const stopNode = async () => {
    const current = node;
    node = null;
    if (!current) return;
    await current.stop();
    const unsent = queue.size();
    if (unsent > 0) log('info', `mesh: ${unsent} summaries not sent (the mesh is off)`);
    queue.commit(unsent);
  };

  const poll = async () => {
    let failures = 0;
    while (!stopping.signal.aborted) {
      try {
        const answer = await client.peers(stopping.signal);
        if (!answer.enabled) {
          if (node) log('info', 'mesh: switched off for this environment; leaving the mesh');
          await stopNode();
        } else {
          if (!node) await start();
          else if (Date.now() >= renewAt || answer.maxPeersPerRound !== maxPeers) await renew(node);
          node?.offerPeers(answer.peers.filter((p) => p.state !== 'dead'));
        }
        failures = 0;
        lastProblem = '';
        await sleep(pollMs, stopping.signal);
      } catch (err) {
        if (stopping.signal.aborted) break;
        const delay = Math.max(pollMs, backoffDelay(failures++, 1000, 300_000));
        // A server without the mesh (404) is not a fault of this agent: asked again, quietly, later.
        if (err instanceof ApiError && err.status === 404) log('debug', `mesh: ${err.message}`);
        else problem(`mesh: ${(err as Error).message}; retrying`);
        await sleep(delay, stopping.signal);
      }
    }
  };

  let flushFailures = 0;
  let flushing: Promise<void> | null = null;
  let retryTimer: NodeJS.Timeout | undefined;
  const flush = async (signal: AbortSignal) => {
    if (node) queue.push(node.takeClosed());
    let lag = loopLagOf(node?.takeLag() ?? []);
    while (queue.size() > 0 && !signal.aborted) {
      const batch = queue.peek(BATCH);
      try {
        const answer = await client.summaries(reportOf(batch, lag), signal);
        queue.commit(batch.length);
        sent += answer.stored;
        lag = undefined;
        flushFailures = 0;
      } catch (err) {
        if (err instanceof ApiError && !isTransient(err) && err.status !== 401 && err.status !== 403) {
          // The server will never take this batch: dropped and counted, not retried forever.
          queue.commit(batch.length);
          rejected += batch.length;
          log('error', `mesh: the server refused ${batch.length} summaries: ${err.message}`);
          continue;
        }
        problem(`mesh: cannot send summaries (${(err as Error).message}); retrying`);
        if (!signal.aborted) {
          retryTimer = setTimeout(() => void runFlush(), backoffDelay(flushFailures++, 5000, flushMs));
          retryTimer.unref();
        }
        return;
      }
    }
  };
  const runFlush = (signal = stopping.signal) => {
    clearTimeout(retryTimer);
    flushing ??= flush(signal).finally(() => {
      flushing = null;
    });
    return flushing;
  };
  const flusher = setInterval(() => void runFlush(), flushMs);
  flusher.unref();

  const polling = poll();
  let stopped: Promise<void> | undefined;
  return {
    stats: () => ({
      running: node !== null,
      address: node?.address ?? null,
      members: node?.members().filter((m) => m.name !== instanceId && m.state === 'alive').length ?? 0,
      queued: queue.size(),
      sent,
      dropped: queue.dropped() + rejected,
    }),
    stop() {
      stopped ??= (async () => {
        stopping.abort();
        clearInterval(flusher);
        clearTimeout(retryTimer);
        await polling;
        await flushing;
        if (node) {
          // One last, short attempt at what is closed; the rest is lost with the process.
          await runFlush(AbortSignal.timeout(2000));
          await node.stop();
          node = null;
        }
      })();
      return stopped;
    },
  };
}
