import { X509Certificate } from 'node:crypto';

// The check every mesh node makes of a peer's certificate in the fleet: issued and signed by the mesh CA,
// within its validity, and naming the same environment. Node's own X.509 only, so the agent loads no
// certificate library; kept out of the package index so browser bundles never see node:crypto.

/** The URI SAN scheme of mesh certificates: flotilla://<environment>/<instance>. */
export const meshUriScheme = 'flotilla:';

export function meshCertificateUri(environment: string, instance: string): string {
  return `flotilla://${encodeURIComponent(environment)}/${encodeURIComponent(instance)}`;
}

export interface MeshPeerIdentity {
  environment: string;
  instance: string;
  /** When the peer's certificate expires. */
  expiresAt: Date;
}

/** A peer refused, with the reason (logged by the caller, never sent back to the peer). */
export class MeshPeerRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MeshPeerRefused';
  }
}

type CertificateInput = X509Certificate | string | Buffer;

function toCertificate(input: CertificateInput, what: string): X509Certificate {
  if (input instanceof X509Certificate) return input;
  try {
    return new X509Certificate(input);
  } catch (err) {
    throw new MeshPeerRefused(`${what} is not an X.509 certificate: ${(err as Error).message}`);
  }
}

/** The `flotilla://` URIs among a certificate's subject alternative names. */
function meshUris(cert: X509Certificate): URL[] {
  const names = cert.subjectAltName ?? '';
  const out: URL[] = [];
  for (const m of names.matchAll(/URI:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const raw = (m[1] ?? '').startsWith('"') ? (JSON.parse(m[1] as string) as string) : (m[1] as string);
    try {
      const url = new URL(raw.trim());
      if (url.protocol === meshUriScheme) out.push(url);
    } catch {
      // not a URI we issue
    }
  }
  return out;
}

/**
 * Checks a peer's certificate (from `tlsSocket.getPeerX509Certificate()`, PEM or DER) against the mesh
 * CA certificate(s) and this node's environment. Returns who the peer is, or throws `MeshPeerRefused`.
 */
export function checkMeshPeer(
  peer: CertificateInput,
  opts: { ca: CertificateInput | CertificateInput[]; environment: string; now?: Date },
): MeshPeerIdentity {
  const cert = toCertificate(peer, 'the peer certificate');
  const cas = (Array.isArray(opts.ca) ? opts.ca : [opts.ca]).map((c) => toCertificate(c, 'the CA certificate'));
  const issuer = cas.find((ca) => ca.ca && cert.checkIssued(ca) && cert.verify(ca.publicKey));
  if (!issuer) throw new MeshPeerRefused(`the peer certificate (${cert.subject}) is not signed by the mesh CA`);
  if (cert.ca) throw new MeshPeerRefused('the peer presented a CA certificate');
  const now = (opts.now ?? new Date()).getTime();
  const validFrom = new Date(cert.validFrom).getTime();
  const validTo = new Date(cert.validTo).getTime();
  if (!(now >= validFrom && now <= validTo))
    throw new MeshPeerRefused(`the peer certificate is valid from ${cert.validFrom} to ${cert.validTo}, not now`);
  const uris = meshUris(cert);
  if (uris.length !== 1) throw new MeshPeerRefused('the peer certificate names no single flotilla:// instance');
  const url = uris[0] as URL;
  const path = url.pathname.slice(1);
  const environment = decodeURIComponent(url.host);
  const instance = decodeURIComponent(path);
  if (!environment || !instance || path.includes('/') || url.search || url.hash)
    throw new MeshPeerRefused(`the peer certificate's URI ${url.href} is malformed`);
  if (environment !== opts.environment)
    throw new MeshPeerRefused(
      `the peer "${instance}" belongs to environment "${environment}", not "${opts.environment}"`,
    );
  return { environment, instance, expiresAt: new Date(validTo) };
}

/**
 * For `tls.connect`'s `checkServerIdentity`: mesh certificates name instances, not host names, so the
 * host-name check is replaced by the peer check (and, when given, the instance the caller meant to dial).
 */
export function meshServerIdentityCheck(opts: {
  ca: CertificateInput | CertificateInput[];
  environment: string;
  instance?: string;
}): (host: string, cert: { raw: Buffer }) => Error | undefined {
  return (_host, cert) => {
    try {
      const peer = checkMeshPeer(cert.raw, opts);
      if (opts.instance !== undefined && peer.instance !== opts.instance)
        return new MeshPeerRefused(`dialled "${opts.instance}" but the peer is "${peer.instance}"`);
      return undefined;
    } catch (err) {
      return err as Error;
    }
  };
}
