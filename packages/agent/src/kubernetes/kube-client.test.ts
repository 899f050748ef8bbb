// The agent's Kubernetes client on the wire: TLS with the cluster's CA and a client certificate (made
// with openssl), watch events split across chunks, an oversized event, and API errors as KubeApiError.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiError, type KubernetesObject, kubeClient, type WatchEvent } from './kube-client.ts';
import type { KubeConfig } from './kube-config.ts';

let dir: string;
const pem = (name: string) => readFileSync(join(dir, name));
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'flotilla-kube-client-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const key = (name: string) => ssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', name);
  for (const ca of ['ca', 'other-ca']) {
    key(`${ca}.key`);
    ssl('req', '-x509', '-new', '-key', `${ca}.key`, '-subj', `/CN=${ca}`, '-days', '2', '-out', `${ca}.crt`);
  }
  const issue = (name: string, subject: string, ext: string) => {
    key(`${name}.key`);
    ssl('req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`);
    const sign = ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'];
    ssl(...sign, '-days', '2', '-out', `${name}.crt`, ...ext.split(' '));
  };
  execFileSync('sh', ['-c', 'printf "subjectAltName=DNS:kubernetes.default.svc" > server.ext'], { cwd: dir });
  issue('server', '/CN=kube-apiserver', '-extfile server.ext');
  execFileSync('sh', ['-c', 'printf "extendedKeyUsage=clientAuth" > client.ext'], { cwd: dir });
  issue('client', '/CN=flotilla-drift-agent', '-extfile client.ext');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
async function listen(server: ReturnType<typeof createHttpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as AddressInfo).port;
}
const config = (server: string, extra: Partial<KubeConfig> = {}): KubeConfig => ({
  server,
  rejectUnauthorized: true,
  credentials: async () => ({ authorization: 'Bearer t' }),
  invalidate: () => {},
  ...extra,
});
const podList: Handler = (req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ metadata: { resourceVersion: '7' }, items: [{ metadata: { name: 'p' } }], who: req.url }));
};

describe('kubeClient', () => {
  it("verifies the server against the cluster's CA, by tls-server-name, and presents a client certificate", async () => {
    const seen: string[] = [];
    const server = createHttpsServer(
      {
        key: pem('server.key'),
        cert: pem('server.crt'),
        ca: pem('ca.crt'),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        seen.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? ''));
        podList(req, res);
      },
    );
    const url = `https://127.0.0.1:${await listen(server)}`;
    const credentials = async () => ({ cert: pem('client.crt'), key: pem('client.key') });
    const trusted = config(url, { ca: pem('ca.crt'), servername: 'kubernetes.default.svc', credentials });
    const page = await kubeClient(trusted).list('/api/v1/pods', { limit: 500 });
    expect(page).toMatchObject({ resourceVersion: '7', continue: undefined, items: [{ metadata: { name: 'p' } }] });
    expect(seen).toEqual(['flotilla-drift-agent']);
    // Another CA, or the right CA without the name the certificate carries: refused.
    const wrongCa = config(url, { ca: pem('other-ca.crt'), servername: 'kubernetes.default.svc', credentials });
    await expect(kubeClient(wrongCa).list('/api/v1/pods', {})).rejects.toThrow(/certificate/);
    const wrongName = config(url, { ca: pem('ca.crt'), credentials });
    await expect(kubeClient(wrongName).list('/api/v1/pods', {})).rejects.toThrow(
      /IP: 127.0.0.1 is not in the cert's list|altnames/,
    );
    // insecure-skip-tls-verify: any server certificate.
    const insecure = config(url, { rejectUnauthorized: false, credentials });
    await expect(kubeClient(insecure).list('/api/v1/pods', {})).resolves.toMatchObject({ resourceVersion: '7' });
  });

  it('reads watch events split anywhere, even inside a UTF-8 character', async () => {
    const line = `${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'café-ü' } } })}\n`;
    const bookmark = `${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } })}\n`;
    const bytes = Buffer.from(line + bookmark);
    const cut = Buffer.from(line).indexOf(Buffer.from('é')) + 1;
    const server = createHttpServer((req, res) => {
      expect(new URL(req.url ?? '', 'http://x').searchParams.get('watch')).toBe('true');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(bytes.subarray(0, cut));
      setTimeout(() => {
        res.write(bytes.subarray(cut, cut + 40));
        res.end(bytes.subarray(cut + 40));
      }, 50);
    });
    const client = kubeClient(config(`http://127.0.0.1:${await listen(server)}`));
    const events: WatchEvent[] = [];
    await client.watch('/api/v1/pods', { resourceVersion: '1' }, (e) => events.push(e), new AbortController().signal);
    expect(events.map((e) => [e.type, e.object.metadata?.name ?? e.object.metadata?.resourceVersion])).toEqual([
      ['ADDED', 'café-ü'],
      ['BOOKMARK', '9'],
    ]);
  });

  it('refuses a watch event longer than 16 MB instead of buffering it', async () => {
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"type":"ADDED","object":{"metadata":{"name":"${'x'.repeat(17 * 1024 * 1024)}`);
    });
    const client = kubeClient(config(`http://127.0.0.1:${await listen(server)}`));
    await expect(client.watch('/api/v1/pods', {}, () => {}, new AbortController().signal)).rejects.toThrow(
      /a watch event is longer than 16777216 bytes/,
    );
  });

  it('turns an API error into a KubeApiError with the Status; a 401 asks for new credentials', async () => {
    let invalidated = 0;
    const server = createHttpServer((req, res) => {
      const code = req.url?.startsWith('/forbidden') ? 403 : 401;
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code, message: 'pods is forbidden: no' }));
    });
    const client = kubeClient(
      config(`http://127.0.0.1:${await listen(server)}`, { invalidate: () => void invalidated++ }),
    );
    const error = (await client.get('/forbidden').catch((e: unknown) => e)) as KubeApiError;
    expect(error).toBeInstanceOf(KubeApiError);
    expect([error.code, (error.body as KubernetesObject).message, error.message]).toEqual([
      403,
      'pods is forbidden: no',
      'GET /forbidden: HTTP 403: pods is forbidden: no',
    ]);
    expect(invalidated).toBe(0);
    await expect(client.put('/x', {})).rejects.toMatchObject({ code: 401 });
    expect(invalidated).toBe(1);
  });
});
