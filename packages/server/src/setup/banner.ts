import { join } from 'node:path';

export interface BannerInfo {
  /** Where a browser on this machine reaches the server, e.g. http://127.0.0.1:8314. */
  url: string;
  /** The address listened on; on all addresses the banner says other machines can reach it too. */
  host?: string;
  setupCode: string | null;
  /** The admin token made at this start, or null. */
  adminToken: string | null;
  dataDir: string;
  /** The store as configured: an SQLite path or a postgres:// URL. */
  database: string;
}

const rule = '-'.repeat(72);

/** The flags that point the offline CLI at this store, never showing a database password. */
function storeFlags(info: BannerInfo): string {
  if (/^postgres(ql)?:\/\//.test(info.database)) return '--database <the postgres:// URL of --database>';
  if (info.database === join(info.dataDir, 'flotilla.db')) return `--data-dir ${quote(info.dataDir)}`;
  return `--database ${quote(info.database)}`;
}

const quote = (path: string) => (/^[\w./:@%+-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`);

/**
 * What the server prints at a start that made a setup code or an admin token, or null when it made
 * neither. Each value sits on a line of its own after a fixed prefix (`url: `, `setup code: `,
 * `admin token: `), so a script can pick it out.
 */
export function firstStartBanner(info: BannerInfo): string | null {
  if (!info.setupCode && !info.adminToken) return null;
  const url = info.url.replace(/\/+$/, '');
  const lines = [
    rule,
    info.setupCode
      ? 'Flotilla is running. First start: no user exists yet.'
      : 'Flotilla is running. No admin could sign in, so an admin token was made.',
    '',
    `url: ${url}/`,
  ];
  if (info.host === '0.0.0.0' || info.host === '::') {
    lines.push("(it listens on all addresses: from other machines, use this machine's name or address)");
  }
  if (info.setupCode) lines.push(`setup code: ${info.setupCode}`);
  if (info.adminToken) lines.push(`admin token: ${info.adminToken}`);
  lines.push('', 'Next:');
  if (info.setupCode) {
    lines.push(
      `  - Open ${url}/ and create the first admin with the setup code.`,
      '    It works once, for 24 hours; a restart while no user exists prints a new one.',
    );
  }
  if (info.adminToken) {
    lines.push(
      '  - For the CLI and curl, use the admin token (shown only this once; only its hash is stored):',
      `      flotilla login --server ${url} --token ${info.adminToken}`,
    );
  }
  lines.push(
    'Lost the admin token? Make another one against the store:',
    `      flotilla token create --admin ${storeFlags(info)}`,
    rule,
    '',
  );
  return lines.join('\n');
}
