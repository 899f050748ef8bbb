import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A throwaway CA and node certificates made with the openssl command, in a temporary folder that
// `cleanup()` removes. Node certificates name localhost, 127.0.0.1 and the node, for server and client use.

export interface TestCert {
  certPath: string;
  keyPath: string;
  cert: Buffer;
  key: Buffer;
}

export interface TestPki {
  dir: string;
  caPath: string;
  ca: Buffer;
  /** A certificate signed by the CA. */
  node(name: string): TestCert;
  /** A certificate from a different CA: a stranger to the mesh. */
  stranger(name: string): TestCert;
  cleanup(): void;
}

const openssl = (cwd: string, args: string[]) => execFileSync('openssl', args, { cwd, stdio: 'pipe' });

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ]);
}

function sign(dir: string, ca: string, name: string): TestCert {
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, `subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:${name}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}`,
  ]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  return { certPath, keyPath, cert: readFileSync(certPath), key: readFileSync(keyPath) };
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-mesh-pki-'));
  makeCa(dir, 'mesh-ca');
  let strangerCa = false;
  return {
    dir,
    caPath: join(dir, 'mesh-ca.pem'),
    ca: readFileSync(join(dir, 'mesh-ca.pem')),
    node: (name) => sign(dir, 'mesh-ca', name),
    stranger: (name) => {
      if (!strangerCa) makeCa(dir, 'other-ca');
      strangerCa = true;
      return sign(dir, 'other-ca', name);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
