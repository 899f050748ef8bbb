// Test fixtures: versions of a tiny HTTP service packed as .tar.gz, signed like the server signs them,
// and served over loopback with Range support.
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import type { InstallManifest } from '@flotilla/protocol';
import { c } from 'tar';
import { sha256File } from './download.ts';
import { canonicalJson } from './verify.ts';

export const serviceScript = `
import { createServer } from 'node:http';
const [port, version, mode] = process.argv.slice(2);
if (mode === 'crash') setTimeout(() => process.exit(3), 50);
createServer((req, res) => {
  res.statusCode = mode === 'unhealthy' && req.url === '/healthz' ? 500 : 200;
  res.end(version);
}).listen(Number(port), '127.0.0.1');
`;

export type Mode = 'good' | 'crash' | 'unhealthy';

export function manifestFor(port: number, mode: Mode): InstallManifest {
  return {
    install: [
      {
        command: process.execPath,
        args: ['-e', "require('fs').writeFileSync('installed.txt', '%%version%% %%role%%')"],
        timeoutSec: 20,
      },
    ],
    postInstall: [{ command: process.execPath, args: ['-e', "require('fs').writeFileSync('post.txt', 'ok')"] }],
    run: { command: process.execPath, args: ['server.mjs', String(port), '%%version%%', mode] },
    restart: { onFault: true },
    // A generous probe timeout: under a loaded CI machine a node process can take seconds to listen.
    health: {
      http: { url: `http://127.0.0.1:${port}/healthz` },
      startupWindowSec: 1,
      timeoutSec: mode === 'unhealthy' ? 2 : 15,
    },
  };
}

export interface BuiltVersion {
  version: string;
  file: string;
  signedManifest: string;
  signature: string;
  manifest: InstallManifest;
}

export const keys = (): { privateKey: KeyObject; publicKeyPem: string } => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
};

export async function signArtifact(
  privateKey: KeyObject,
  service: string,
  version: string,
  file: string,
  manifest: InstallManifest,
) {
  const { size, sha256 } = await sha256File(file);
  const signedManifest = canonicalJson({
    service,
    version,
    digest: `sha256:${sha256}`,
    size,
    manifest,
    publishedAt: new Date().toISOString(),
  });
  return { signedManifest, signature: sign(null, Buffer.from(signedManifest), privateKey).toString('base64') };
}

export async function buildVersion(
  workDir: string,
  privateKey: KeyObject,
  service: string,
  version: string,
  port: number,
  mode: Mode,
): Promise<BuiltVersion> {
  const src = join(workDir, `src-${version}`);
  mkdirSync(src, { recursive: true });
  const manifest = manifestFor(port, mode);
  writeFileSync(join(src, 'server.mjs'), serviceScript);
  writeFileSync(join(src, 'flotilla.json'), JSON.stringify(manifest));
  const file = join(workDir, `${service}-${version}.tar.gz`);
  await c({ gzip: true, file, cwd: src }, ['server.mjs', 'flotilla.json']);
  return { version, file, manifest, ...(await signArtifact(privateKey, service, version, file, manifest)) };
}

export const token = 'test-token';

/** Serves `/api/v1/services/:s/versions/:v/artifact` from `files` (key `s/v`), with Range and a bearer check. */
export async function startArtifactServer(
  files: Map<string, string>,
): Promise<{ url: string; server: Server; requests: { range: string | undefined }[] }> {
  const requests: { range: string | undefined }[] = [];
  const server = createServer((req, res) => {
    const m = /^\/api\/v1\/services\/([^/]+)\/versions\/([^/]+)\/artifact$/.exec(req.url ?? '');
    const file = m ? files.get(`${m[1]}/${m[2]}`) : undefined;
    if (req.headers.authorization !== `Bearer ${token}`) return void res.writeHead(401).end();
    if (!file) return void res.writeHead(404).end();
    requests.push({ range: req.headers.range });
    const size = statSync(file).size;
    const r = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (r) {
      const start = Number(r[1]);
      res.writeHead(206, { 'content-range': `bytes ${start}-${size - 1}/${size}`, 'content-length': size - start });
      createReadStream(file, { start }).pipe(res);
    } else {
      res.writeHead(200, { 'content-length': size });
      res.end(readFileSync(file));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  return { url: `http://127.0.0.1:${addr.port}`, server, requests };
}

export async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const addr = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  if (!addr || typeof addr === 'string') throw new Error('no address');
  return addr.port;
}

/** The body of GET / on the port, or null when nothing answers. */
export async function served(port: number): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
    return await res.text();
  } catch {
    return null;
  }
}
