/** One private file of a service, encrypted (service-private-files/cipher.ts). */
export interface PrivateFilesTable {
  service: string;
  /** Relative POSIX path inside the version's tree, e.g. `conf/license.key`. */
  path: string;
  /** Plaintext size in bytes. */
  size: number;
  /** Hex sha256 of the plaintext, so an upload can be checked against a local file. */
  sha256: string;
  /** Which key encrypted it (first 16 hex digits of the key's sha256). */
  key_id: string;
  /** Base64 of the 12-byte GCM nonce. */
  nonce: string;
  /** Base64 of the ciphertext followed by the 16-byte GCM tag. */
  ciphertext: string;
  updated_at: number;
  /** Who uploaded it (audit actor label). */
  updated_by: string;
}

export type PrivateFileTables = { private_files: PrivateFilesTable };
