import type { X509Certificate } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { meshServerIdentityCheck } from '@flotilla/protocol/mesh-peer';
import { MESH_ECHO_BODY, MESH_ECHO_NODE_HEADER, MESH_ECHO_PATH, type PhaseSample } from './probe-types.ts';

// One peer's probes, run inside the worker thread and timed with process.hrtime.bigint(). The fresh
// connection measures DNS, TCP connect and TLS handshake apart; the request phase runs on a connection
// kept alive between probes, so it is one round trip plus the echo, without handshakes.

export interface ProbeTarget {
  name: string;
  host: string;
  port: number;
  secure: boolean;
}

export interface PhaseTimeouts {
  dnsTimeoutMs: number;
  connectTimeoutMs: number;
  tlsTimeoutMs: number;
  requestTimeoutMs: number;
}

/** Parses `host:port`, `[v6]:port` or an http(s) URL; `secure` is the default scheme when none is given. */
export function parseTarget(name: string, address: string, secure: boolean): ProbeTarget {
  const withScheme = /^https?:\/\//i.test(address) ? address : `${secure ? 'https' : 'http'}://${address}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`peer ${name}: address ${JSON.stringify(address)} is not host:port`);
  }
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`peer ${name}: address ${JSON.stringify(address)} is not host:port`);
  }
  return { name, host, port, secure: secure || url.protocol === 'https:' };
}

const seconds = (startNs: bigint) => Number(process.hrtime.bigint() - startNs) / 1e9;

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message.slice(0, 80) : 'failed';
}

export type IdentityCheck = (host: string, cert: tls.PeerCertificate) => Error | undefined;

/**
 * Standalone: the certificate must name the address dialled or the peer's mesh name. Fleet (`mesh`
 * given): a mesh certificate of the node's environment that names the peer dialled.
 */
export function peerIdentityCheck(
  peerName: string,
  mesh?: { ca: X509Certificate; environment: string },
): IdentityCheck {
  if (mesh) return meshServerIdentityCheck({ ca: mesh.ca, environment: mesh.environment, instance: peerName });
  return (host, cert) => tls.checkServerIdentity(host, cert) && tls.checkServerIdentity(peerName, cert);
}

/** Runs `work` with a deadline; on timeout `cancel` tears it down and the phase fails as 'timeout'. */
function withDeadline<T>(ms: number, work: Promise<T>, cancel: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      cancel();
      reject(Object.assign(new Error('timeout'), { code: 'timeout' }));
    }, ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/**
 * DNS, TCP connect and (when `context` is given) TLS handshake on a fresh connection, closed after.
 * A failed phase ends the probe: the later phases are not attempted and not counted.
 */
export async function probeHandshake(
  target: ProbeTarget,
  context: tls.SecureContext | undefined,
  timeouts: PhaseTimeouts,
  track: Set<net.Socket>,
  identity: IdentityCheck = peerIdentityCheck(target.name),
): Promise<PhaseSample[]> {
  const samples: PhaseSample[] = [];
  let ip = target.host;
  if (net.isIP(target.host)) {
    samples.push({ phase: 'dns', ok: true, seconds: 0, literal: true });
  } else {
    const start = process.hrtime.bigint();
    try {
      ip = (await withDeadline(timeouts.dnsTimeoutMs, lookup(target.host), () => {})).address;
      samples.push({ phase: 'dns', ok: true, seconds: seconds(start) });
    } catch (error) {
      samples.push({ phase: 'dns', ok: false, error: reason(error) });
      return samples;
    }
  }
  const start = process.hrtime.bigint();
  const raw = net.connect({ host: ip, port: target.port, noDelay: true });
  let secure: tls.TLSSocket | undefined;
  // Errors are read through the phase promises; a late one must not be an uncaught 'error' event.
  raw.on('error', () => {});
  track.add(raw);
  try {
    await withDeadline(timeouts.connectTimeoutMs, once(raw, 'connect'), () => raw.destroy());
    samples.push({ phase: 'connect', ok: true, seconds: seconds(start) });
    if (!target.secure) return samples;
    const tlsStart = process.hrtime.bigint();
    secure = tls.connect({
      socket: raw,
      // The name checked against the certificate; without it Node checks 'localhost'.
      host: target.host,
      secureContext: context,
      servername: net.isIP(target.host) ? undefined : target.host,
      ALPNProtocols: ['http/1.1'],
      rejectUnauthorized: true,
      checkServerIdentity: identity,
    });
    const wrapped = secure;
    wrapped.on('error', () => {});
    try {
      await withDeadline(timeouts.tlsTimeoutMs, once(wrapped, 'secureConnect'), () => wrapped.destroy());
      samples.push({ phase: 'tls', ok: true, seconds: seconds(tlsStart) });
    } catch (error) {
      samples.push({ phase: 'tls', ok: false, error: reason(error) });
    }
  } catch (error) {
    samples.push({ phase: 'connect', ok: false, error: reason(error) });
  } finally {
    secure?.destroy();
    raw.destroy();
    track.delete(raw);
  }
  return samples;
}

function once(emitter: net.Socket, event: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      emitter.off(event, onEvent);
      reject(error);
    };
    const onEvent = () => {
      emitter.off('error', onError);
      resolve();
    };
    emitter.once(event, onEvent);
    emitter.once('error', onError);
  });
}

export interface RequestClient {
  /** One timed GET of the echo path on the kept-alive connection (warmed up first when there is none). */
  probe(timeoutMs: number): Promise<PhaseSample>;
  close(): void;
}

// One socket per peer. TCP keepalive only after 30 s idle: at the default (1 s) every idle connection
// to every peer would send a keepalive segment each second.
const agentOptions: http.AgentOptions = {
  keepAlive: true,
  keepAliveMsecs: 30_000,
  maxSockets: 1,
  maxFreeSockets: 1,
  scheduling: 'lifo',
};

/** A kept-alive HTTP(S) client for one peer: one socket, reused from probe to probe. */
export function requestClient(
  target: ProbeTarget,
  context: tls.SecureContext | undefined,
  token?: string,
  identity: IdentityCheck = peerIdentityCheck(target.name),
): RequestClient {
  // TLS options live on the agent: a per-request checkServerIdentity gives every request a pool of its
  // own, and the kept-alive connection would never be reused.
  const agent = target.secure
    ? new https.Agent({
        ...agentOptions,
        secureContext: context,
        servername: net.isIP(target.host) ? undefined : target.host,
        rejectUnauthorized: true,
        checkServerIdentity: identity,
      })
    : new http.Agent(agentOptions);
  const headers: Record<string, string> = { accept: 'text/plain' };
  if (token) headers.authorization = `Bearer ${token}`;
  const options: https.RequestOptions = {
    agent,
    host: target.host,
    port: target.port,
    path: MESH_ECHO_PATH,
    method: 'GET',
    headers,
  };
  const request = (timeoutMs: number) =>
    new Promise<{ seconds: number; reused: boolean }>((resolve, reject) => {
      const start = process.hrtime.bigint();
      const req = (target.secure ? https : http).request(options, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < 256) body += chunk;
        });
        res.on('error', reject);
        res.on('end', () => {
          const elapsed = seconds(start);
          const node = res.headers[MESH_ECHO_NODE_HEADER];
          if (res.statusCode !== 200)
            return reject(Object.assign(new Error('status'), { code: `status ${res.statusCode}` }));
          if (node !== undefined && node !== target.name)
            return reject(Object.assign(new Error('node'), { code: 'wrong-node' }));
          if (body !== MESH_ECHO_BODY) return reject(Object.assign(new Error('body'), { code: 'bad-body' }));
          resolve({ seconds: elapsed, reused: req.reusedSocket });
        });
      });
      const timer = setTimeout(() => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })), timeoutMs);
      req.on('close', () => clearTimeout(timer));
      req.on('error', (error) => {
        clearTimeout(timer);
        reject(Object.assign(error, { reused: req.reusedSocket }));
      });
      req.end();
    });

  return {
    async probe(timeoutMs) {
      try {
        let answer = await request(timeoutMs).catch((error: Error & { reused?: boolean; code?: string }) => {
          // The peer may close an idle connection just as it is reused: not a loss, dial again.
          if (error.reused && error.code !== 'timeout') return request(timeoutMs);
          throw error;
        });
        // A request on a new connection includes the handshakes: that one warms the connection up.
        if (!answer.reused) answer = await request(timeoutMs);
        return { phase: 'request', ok: true, seconds: answer.seconds };
      } catch (error) {
        return { phase: 'request', ok: false, error: reason(error) };
      }
    },
    close() {
      agent.destroy();
    },
  };
}
