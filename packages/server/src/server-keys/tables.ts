export interface ServerKeysTable {
  /** `signing`, `mesh-ca` or `private-files`. */
  name: string;
  /** SHA-256 (hex) of the public key, certificate, or of the secret key's own SHA-256. */
  fingerprint: string;
  recorded_at: string;
}

export interface ServerKeyTables {
  server_keys: ServerKeysTable;
}
