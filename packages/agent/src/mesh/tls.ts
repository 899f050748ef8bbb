import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

// Which TLS a mesh node speaks follows from which material it was given (canary-bot's rule), but
// "mutual" here is mutual: the server asks for and verifies a client certificate, and the client shows one.

/** Bad flags or unreadable files: the node does not start, and the message says which input is wrong. */
export class MeshConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MeshConfigError';
  }
}

export interface MeshTlsInput {
  serverCertPath?: string;
  serverKeyPath?: string;
  /** Base64 of the PEM text (a PEM text itself is accepted too). */
  serverCert?: string;
  serverKey?: string;
  caCertPaths?: string[];
  caCert?: string;
}

/**
 * `mutual`: cert, key and CA; both sides verify each other against the CA.
 * `server`: cert and key, no CA; peers are verified against the system's roots, clients are not asked.
 * `edge`: CA only; the node serves plain HTTP behind a TLS-terminating proxy and dials peers over TLS.
 */
export type MeshTlsMode = 'mutual' | 'server' | 'edge';

export interface MeshTls {
  mode: MeshTlsMode;
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer[];
}

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new MeshConfigError(`${flag}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
}

function decodePem(value: string, flag: string): Buffer {
  const text = value.trim();
  const pem = text.startsWith('-----BEGIN') ? Buffer.from(text) : Buffer.from(text, 'base64');
  if (!pem.toString('latin1').includes('-----BEGIN')) {
    throw new MeshConfigError(`${flag}: not base64 of a PEM file (encode it with: base64 -w0 file.pem)`);
  }
  return pem;
}

function one(path: string | undefined, value: string | undefined, name: string): Buffer | undefined {
  if (path !== undefined && value !== undefined) {
    throw new MeshConfigError(`--${name}-path and --${name}: give one of them`);
  }
  if (path !== undefined) return readPem(path, `--${name}-path`);
  if (value !== undefined) return decodePem(value, `--${name}`);
  return undefined;
}

/** The node's TLS material from flags, checked up front; `undefined` when none was given (plain HTTP). */
export function loadMeshTls(input: MeshTlsInput): MeshTls | undefined {
  const cert = one(input.serverCertPath, input.serverCert, 'server-cert');
  const key = one(input.serverKeyPath, input.serverKey, 'server-key');
  const ca = [
    ...(input.caCertPaths ?? []).map((path) => readPem(path, '--ca-cert-path')),
    ...(input.caCert !== undefined ? [decodePem(input.caCert, '--ca-cert')] : []),
  ];
  if ((cert === undefined) !== (key === undefined)) {
    throw new MeshConfigError(
      'a server certificate needs its key and a key its certificate (--server-cert*, --server-key*)',
    );
  }
  if (cert === undefined && ca.length === 0) return undefined;
  try {
    createSecureContext({ ...(cert ? { cert, key } : {}), ...(ca.length ? { ca } : {}) });
  } catch (error) {
    throw new MeshConfigError(`TLS material refused: ${(error as Error).message}`);
  }
  if (cert === undefined) return { mode: 'edge', ca };
  return ca.length ? { mode: 'mutual', cert, key, ca } : { mode: 'server', cert, key };
}

/** Options for an https server on the mesh port: mutual mode requires and verifies client certificates. */
export function serverTlsOptions(tls: MeshTls): {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer[];
  requestCert: boolean;
  rejectUnauthorized: boolean;
} {
  const mutual = tls.mode === 'mutual';
  return {
    cert: tls.cert,
    key: tls.key,
    ...(tls.ca ? { ca: tls.ca } : {}),
    requestCert: mutual,
    rejectUnauthorized: mutual,
  };
}

/** Options for dialing a peer: verify it against the CA (or the system's roots) and show our certificate. */
export function clientTlsOptions(tls: MeshTls): {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer[];
  rejectUnauthorized: true;
} {
  return {
    ...(tls.mode === 'mutual' ? { cert: tls.cert, key: tls.key } : {}),
    ...(tls.ca ? { ca: tls.ca } : {}),
    rejectUnauthorized: true,
  };
}

/** Whether the node's own port speaks TLS (not in edge mode, where a proxy in front does). */
export function servesTls(tls: MeshTls | undefined): tls is MeshTls & { cert: Buffer; key: Buffer } {
  return tls !== undefined && tls.mode !== 'edge';
}
