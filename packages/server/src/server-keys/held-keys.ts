import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { loadOrCreateSigningKey } from '../catalog/signing.ts';
import { meshCaLoader } from '../mesh/ca.ts';
import { loadPrivateFileKey } from '../service-private-files/cipher.ts';
import { fingerprint, type HeldKey } from './agreement.ts';

/** The keys a server keeps in its data directory (made now when missing), as fingerprints. */
export async function heldKeys(dataDir: string, privateFilesKey: string | null | undefined): Promise<HeldKey[]> {
  const signing = loadOrCreateSigningKey(dataDir);
  const meshCa = await meshCaLoader(dataDir)();
  const sealing = loadPrivateFileKey(dataDir, privateFilesKey);
  return [
    { name: 'signing', fingerprint: signing.keyId, location: join(dataDir, 'signing/ed25519.pem') },
    { name: 'mesh-ca', fingerprint: fingerprint(meshCa.certificatePem), location: join(dataDir, 'mesh/') },
    {
      name: 'private-files',
      fingerprint: fingerprint(sealing.key),
      location: privateFilesKey ? 'FLOTILLA_PRIVATE_FILES_KEY' : join(dataDir, 'private-files.key'),
    },
  ];
}

/** The entries of a data directory that hold those keys: what every replica must have the same of. */
export const heldKeyEntries = ['signing', 'mesh', 'private-files.key'] as const;

/** Copies a server's keys into another data directory, as a new replica needs them. */
export function copyHeldKeys(fromDataDir: string, toDataDir: string): void {
  for (const entry of heldKeyEntries) cpSync(join(fromDataDir, entry), join(toDataDir, entry), { recursive: true });
}
