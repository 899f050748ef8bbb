import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TLSSocket } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTarget } from './probe-connection.ts';
import {
  crashForTest,
  MESH_ECHO_PATH,
  type ProbeResult,
  type Prober,
  startProber,
  writeEchoResponse,
} from './probe-runner.ts';
import { makeTestPki } from './tls.test.helper.ts';

interface EchoServer {
  port: number;
  /** Client certificate subjects seen, and bearer tokens seen. */
  clients: string[];
  tokens: string[];
  /** Connections accepted so far. */
  accepted: () => number;
  connections(): Promise<number>;
  close(): Promise<void>;
}

const servers: EchoServer[] = [];
const pki = makeTestPki();
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  pki.cleanup();
});

async function echoServer(
  name: string,
  options: { tls?: https.ServerOptions; token?: string; silent?: boolean; host?: string } = {},
): Promise<EchoServer> {
  const clients: string[] = [];
  const tokens: string[] = [];
  const handler: http.RequestListener = (req, res) => {
    const socket = req.socket as TLSSocket;
    if (typeof socket.getPeerCertificate === 'function')
      clients.push(String(socket.getPeerCertificate().subject?.CN ?? ''));
    tokens.push(req.headers.authorization ?? '');
    if (options.silent) return; // accepts, never answers
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      res.writeHead(401).end();
      return;
    }
    if (req.url === MESH_ECHO_PATH) writeEchoResponse(res, name);
    else res.writeHead(404).end();
  };
  const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
  server.keepAliveTimeout = 60_000;
  let accepted = 0;
  server.on(options.tls ? 'secureConnection' : 'connection', () => accepted++);
  await new Promise<void>((resolve) => server.listen(0, options.host ?? '127.0.0.1', resolve));
  const entry: EchoServer = {
    port: (server.address() as AddressInfo).port,
    clients,
    tokens,
    accepted: () => accepted,
    connections: () => new Promise((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n)))),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(entry);
  return entry;
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(20);
  }
}

/** Open connections once the server has seen the prober's closes (a few ms after stop). */
async function closedSoon(server: EchoServer): Promise<number> {
  for (let i = 0; i < 50 && (await server.connections()) > 0; i++) await sleep(20);
  return server.connections();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length > 0 ? (sorted[Math.floor(sorted.length / 2)] as number) : Number.NaN;
}

const phase = (result: ProbeResult | undefined, name: string) => result?.samples.find((s) => s.phase === name);

describe('prober', () => {
  it('measures DNS, connect and request per peer over HTTP, counts failures as loss, and stops cleanly', async () => {
    const duck = await echoServer('duck');
    const goose = await echoServer('goose');
    const silent = await echoServer('swan', { silent: true });
    const closed = await echoServer('gone');
    await closed.close();
    const results: ProbeResult[] = [];
    const lags: number[] = [];
    const threadHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort' || r === 'Worker');
    const handlesBefore = threadHandles().length;
    const prober: Prober = startProber({
      self: 'eagle',
      intervalMs: 150,
      maxPeersPerRound: 10,
      handshakeEvery: 2,
      requestTimeoutMs: 300,
      onResult: (r) => results.push(r),
      onLag: (lag) => lags.push(lag.maxMs),
    });
    prober.setPeers([
      { name: 'eagle', address: '127.0.0.1:1' },
      { name: 'duck', address: `127.0.0.1:${duck.port}` },
      { name: 'goose', address: `localhost:${goose.port}` },
      { name: 'swan', address: `127.0.0.1:${silent.port}` },
      { name: 'gone', address: `127.0.0.1:${closed.port}` },
    ]);
    const of = (peer: string) => results.filter((r) => r.peer === peer);
    try {
      await until(() => ['duck', 'goose', 'swan', 'gone'].every((peer) => of(peer).length >= 4));
    } finally {
      await prober.stop();
    }
    expect(of('eagle')).toEqual([]);
    expect(threadHandles()).toHaveLength(handlesBefore);

    const duckFresh = of('duck').find((r) => phase(r, 'connect') && !r.stalled);
    expect(phase(duckFresh, 'dns')).toEqual({ phase: 'dns', ok: true, seconds: 0, literal: true });
    expect(phase(duckFresh, 'connect')?.seconds).toBeGreaterThan(0);
    expect(phase(duckFresh, 'connect')?.seconds).toBeLessThan(0.05);
    expect(phase(duckFresh, 'tls')).toBeUndefined();
    // Every probe has a request; only every second one opens a fresh connection.
    // Results taken while the worker's loop stalled (its start-up) are flagged and not judged by time.
    const trusted = of('duck').filter((r) => !r.stalled);
    expect(trusted.length).toBeGreaterThanOrEqual(of('duck').length - 2);
    for (const r of of('duck')) expect(phase(r, 'request')).toMatchObject({ ok: true });
    // Loopback: the typical request is well under 50 ms (the median, so one scheduling hiccup of a
    // loaded machine is not a failure); none is absurd.
    const requestTimes = trusted.map((r) => phase(r, 'request')?.seconds ?? Number.NaN);
    for (const seconds of requestTimes) expect(seconds).toBeGreaterThan(0);
    expect(median(requestTimes)).toBeLessThan(0.05);
    expect(Math.max(...requestTimes)).toBeLessThan(1);
    // The requests share one kept-alive connection; the others are the fresh-connection probes.
    const freshDuck = of('duck').filter((r) => phase(r, 'connect')).length;
    expect(freshDuck).toBeLessThan(of('duck').length);
    expect(duck.accepted()).toBeLessThanOrEqual(freshDuck + 2);

    const gooseFresh = of('goose').find((r) => phase(r, 'dns'));
    expect(phase(gooseFresh, 'dns')?.literal).toBeUndefined();
    expect(phase(gooseFresh, 'dns')?.seconds).toBeGreaterThan(0);

    for (const r of of('swan')) expect(phase(r, 'request')).toMatchObject({ ok: false, error: 'timeout' });
    for (const r of of('gone')) expect(phase(r, 'request')).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
    expect(of('gone').some((r) => phase(r, 'connect')?.error === 'ECONNREFUSED')).toBe(true);
    expect(lags.length).toBeGreaterThan(0);
    expect(results.every((r) => typeof r.stalled === 'boolean' && r.at > 0)).toBe(true);

    // Stopped: every connection the prober held is closed, and nothing arrives any more.
    expect(await closedSoon(duck)).toBe(0);
    expect(await closedSoon(goose)).toBe(0);
    const count = results.length;
    await sleep(400);
    expect(results.length).toBe(count);
  });

  it('probes over mutual TLS with one connection kept alive, the bearer token sent, and strangers refused', async () => {
    const duckCert = pki.node('duck');
    const eagleCert = pki.node('eagle');
    const tls = { cert: duckCert.cert, key: duckCert.key, ca: pki.ca, requestCert: true, rejectUnauthorized: true };
    const duck = await echoServer('duck', { tls, token: 'secret' });
    const results: ProbeResult[] = [];
    const prober = startProber({
      self: 'eagle',
      tls: { ca: pki.ca, cert: eagleCert.cert, key: eagleCert.key },
      token: 'secret',
      intervalMs: 100,
      maxPeersPerRound: 5,
      handshakeEvery: 3,
      onResult: (r) => results.push(r),
    });
    // The certificate names 127.0.0.1 and the node, so both the address and the name check pass.
    prober.setPeers([{ name: 'duck', address: `127.0.0.1:${duck.port}` }]);
    try {
      await until(() => results.length >= 6);
    } finally {
      await prober.stop();
    }
    const fresh = results.filter((r) => phase(r, 'tls'));
    // One kept-alive TLS connection carries every request: only fresh-connection probes add handshakes.
    expect(duck.accepted()).toBeLessThanOrEqual(fresh.length + 2);
    expect(fresh.length).toBeGreaterThanOrEqual(2);
    for (const r of fresh) {
      expect(phase(r, 'tls')?.ok).toBe(true);
      expect(phase(r, 'tls')?.seconds).toBeGreaterThan(0);
    }
    for (const r of results) expect(phase(r, 'request')?.ok).toBe(true);
    const trusted = results.filter((r) => !r.stalled);
    expect(median(trusted.map((r) => phase(r, 'request')?.seconds ?? Number.NaN))).toBeLessThan(0.05);
    expect(median(fresh.filter((r) => !r.stalled).map((r) => phase(r, 'tls')?.seconds ?? Number.NaN))).toBeLessThan(
      0.5,
    );
    expect(new Set(duck.clients)).toEqual(new Set(['eagle']));
    expect(new Set(duck.tokens)).toEqual(new Set(['Bearer secret']));

    // A prober with a certificate from another CA, or the wrong token, measures nothing but loss.
    const stranger = pki.stranger('mallory');
    const refused: ProbeResult[] = [];
    const bad = [
      startProber({
        self: 'mallory',
        tls: { ca: pki.ca, cert: stranger.cert, key: stranger.key },
        token: 'secret',
        intervalMs: 100,
        maxPeersPerRound: 5,
        handshakeEvery: 1,
        onResult: (r) => refused.push(r),
      }),
      startProber({
        self: 'mallory',
        tls: { ca: pki.ca, cert: eagleCert.cert, key: eagleCert.key },
        token: 'wrong',
        intervalMs: 100,
        maxPeersPerRound: 5,
        onResult: (r) => refused.push(r),
      }),
    ];
    for (const p of bad) p.setPeers([{ name: 'duck', address: `127.0.0.1:${duck.port}` }]);
    try {
      await until(() => refused.length >= 6);
    } finally {
      await Promise.all(bad.map((p) => p.stop()));
    }
    for (const r of refused) expect(phase(r, 'request')?.ok).toBe(false);
    expect(refused.some((r) => phase(r, 'request')?.error === 'status 401')).toBe(true);
    expect(refused.some((r) => phase(r, 'tls')?.ok === false || phase(r, 'request')?.error !== 'status 401')).toBe(
      true,
    );
    expect(await closedSoon(duck)).toBe(0);
  });

  it('refuses a peer whose certificate names neither the address nor the peer', async () => {
    const goose = pki.node('goose');
    const eagle = pki.node('eagle');
    const server = await echoServer('duck', {
      tls: { cert: goose.cert, key: goose.key, ca: pki.ca, requestCert: true, rejectUnauthorized: true },
      host: '127.0.0.2',
    });
    const results: ProbeResult[] = [];
    const prober = startProber({
      self: 'eagle',
      tls: { ca: pki.ca, cert: eagle.cert, key: eagle.key },
      intervalMs: 100,
      maxPeersPerRound: 5,
      handshakeEvery: 1,
      onResult: (r) => results.push(r),
    });
    // Dialled at 127.0.0.2 as 'duck': goose's certificate names neither (127.0.0.1, localhost, goose).
    prober.setPeers([{ name: 'duck', address: `127.0.0.2:${server.port}` }]);
    try {
      await until(() => results.length >= 2);
    } finally {
      await prober.stop();
    }
    for (const r of results) {
      expect(phase(r, 'connect')?.ok).toBe(true);
      expect(phase(r, 'tls')).toMatchObject({ ok: false, error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      expect(phase(r, 'request')).toMatchObject({ ok: false, error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    }
  });

  it('starts a thread that died again, with the latest peers', async () => {
    const duck = await echoServer('duck');
    const results: ProbeResult[] = [];
    const errors: string[] = [];
    const prober = startProber({
      self: 'eagle',
      intervalMs: 100,
      maxPeersPerRound: 5,
      onResult: (r) => results.push(r),
      onError: (message) => errors.push(message),
    });
    prober.setPeers([{ name: 'duck', address: `127.0.0.1:${duck.port}` }]);
    try {
      await until(() => results.length >= 2);
      (prober as unknown as Record<symbol, () => void>)[crashForTest]?.();
      await until(() => errors.length > 0);
      const before = results.length;
      await until(() => results.length >= before + 2);
    } finally {
      await prober.stop();
    }
    expect(errors[0]).toMatch(/prober thread exited .*starting it again/);
    expect(results.every((r) => r.peer === 'duck' && phase(r, 'request')?.ok)).toBe(true);
    expect(await closedSoon(duck)).toBe(0);
  });

  it('parses host:port, [v6]:port and URLs, and refuses the rest', () => {
    expect(parseTarget('a', '10.0.0.1:8081', false)).toEqual({
      name: 'a',
      host: '10.0.0.1',
      port: 8081,
      secure: false,
    });
    expect(parseTarget('a', '[::1]:8081', true)).toEqual({ name: 'a', host: '::1', port: 8081, secure: true });
    expect(parseTarget('a', 'https://node.example:9443', false)).toMatchObject({
      host: 'node.example',
      port: 9443,
      secure: true,
    });
    expect(() => parseTarget('a', 'not a host', false)).toThrow(/not host:port/);
    expect(() => parseTarget('a', 'host:99999', false)).toThrow(/not host:port/);
  });

  it('refuses bad settings', () => {
    const base = { self: 'eagle', intervalMs: 1000, maxPeersPerRound: 5, onResult: () => {} };
    expect(() => startProber({ ...base, intervalMs: 1 })).toThrow(/intervalMs/);
    expect(() => startProber({ ...base, requestTimeoutMs: Number.NaN })).toThrow(/requestTimeoutMs/);
    expect(() => startProber({ ...base, tls: { ca: pki.ca, cert: pki.ca } })).toThrow(/cert and key/);
  });
});
