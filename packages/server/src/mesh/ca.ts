import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  type webcrypto,
} from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { meshCertificateUri } from '@flotilla/protocol/mesh-peer';
import { Invalid } from '../errors.ts';

// The mesh CA: an ECDSA P-256 root made on first use and kept in the data dir (key 0600, directory
// 0700), like the catalog's signing key. It signs short-lived certificates naming an agent's instance
// and environment, which peers check with `checkMeshPeer` from @flotilla/protocol/mesh-peer.

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const caLifetimeMs = 10 * 365 * 24 * 3600_000;
/** Clock skew between hosts tolerated at the start of a certificate's validity. */
const backdateMs = 5 * 60_000;

export interface MeshCa {
  certificatePem: string;
  issue(request: {
    environment: string;
    instance: string;
    publicKeyPem: string;
    lifetimeMs: number;
    now?: Date;
  }): Promise<{
    certificatePem: string;
    uri: string;
    expiresAt: Date;
  }>;
}

async function cryptoKeys(
  privateKey: KeyObject,
): Promise<{ privateKey: webcrypto.CryptoKey; publicKey: webcrypto.CryptoKey }> {
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey: privateKey.toCryptoKey(ecdsa, false, ['sign']) as webcrypto.CryptoKey,
    publicKey: publicKey.toCryptoKey(ecdsa, true, ['verify']) as webcrypto.CryptoKey,
  };
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f; // positive, as RFC 5280 requires
  return bytes.toString('hex');
}

type X509 = typeof import('./x509.ts');

async function createCa(x509: X509, dir: string): Promise<{ keyPem: string; certPem: string }> {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const keys = await cryptoKeys(key);
  const now = Date.now();
  const name = `CN=Flotilla mesh CA ${randomBytes(4).toString('hex')}`;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name,
    notBefore: new Date(now - backdateMs),
    notAfter: new Date(now + caLifetimeMs),
    signingAlgorithm: ecdsa,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyPem = key.export({ format: 'pem', type: 'pkcs8' }).toString();
  const certPem = cert.toString('pem');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  // One file holding key and certificate, written whole then renamed: never a key without its certificate.
  const file = join(dir, 'ca.pem');
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${keyPem}${certPem}`, { mode: 0o600 });
  renameSync(tmp, file);
  return { keyPem, certPem };
}

async function readOrCreate(x509: X509, dir: string): Promise<{ keyPem: string; certPem: string }> {
  let text: string;
  try {
    text = readFileSync(join(dir, 'ca.pem'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    rmSync(join(dir, `ca.pem.${process.pid}.tmp`), { force: true });
    return createCa(x509, dir);
  }
  const keyPem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n?/.exec(text)?.[0];
  const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(text)?.[0];
  if (!keyPem || !certPem) throw new Error(`${join(dir, 'ca.pem')} holds no mesh CA key and certificate`);
  return { keyPem, certPem };
}

/** An agent's key: SPKI PEM of an ECDSA P-256 public key, or a 400 saying what it is instead. */
function agentPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem', type: 'spki' });
  } catch {
    throw new Invalid('publicKey: must be a public key in SPKI PEM');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new Invalid(`publicKey: must be an ECDSA P-256 key, not ${key.asymmetricKeyType}`);
  return key;
}

/** Loads `<dataDir>/mesh/ca.pem` on first call, creating it when missing; later calls share it. */
export function meshCaLoader(dataDir: string): () => Promise<MeshCa> {
  let loading: Promise<MeshCa> | undefined;
  return () => {
    loading ??= load(join(dataDir, 'mesh')).catch((err) => {
      loading = undefined;
      throw err;
    });
    return loading;
  };
}

async function load(dir: string): Promise<MeshCa> {
  const x509 = await import('./x509.ts');
  const { keyPem, certPem } = await readOrCreate(x509, dir);
  const keys = await cryptoKeys(createPrivateKey(keyPem));
  const caCert = new x509.X509Certificate(certPem);
  return {
    certificatePem: certPem,
    async issue({ environment, instance, publicKeyPem, lifetimeMs, now = new Date() }) {
      const subjectKey = agentPublicKey(publicKeyPem).toCryptoKey(ecdsa, true, ['verify']) as webcrypto.CryptoKey;
      const uri = meshCertificateUri(environment, instance);
      const expiresAt = new Date(now.getTime() + lifetimeMs);
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serialNumber(),
        subject: [{ CN: [instance.slice(0, 64)] }, { OU: [environment] }],
        issuer: caCert.subjectName,
        notBefore: new Date(now.getTime() - backdateMs),
        notAfter: expiresAt,
        signingAlgorithm: ecdsa,
        publicKey: subjectKey,
        signingKey: keys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
          new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }]),
          await x509.AuthorityKeyIdentifierExtension.create(caCert),
        ],
      });
      return { certificatePem: cert.toString('pem'), uri, expiresAt };
    },
  };
}
