import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { PrivateFile, PrivateFileList } from '@flotilla/protocol';
import type { Command } from 'commander';
import { CliError } from '../api-client.ts';
import { type ApiFlags, clientFor, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { formatTime, printResult } from '../output.ts';
import { formatBytes } from './catalog.ts';

/** The server's limit; checked here too so a large file is refused before it is sent. */
const maxBytes = 1024 * 1024;
const route = (service: string, path?: string) =>
  `/api/v1/services/${encodeURIComponent(service)}/private-files${
    path === undefined ? '' : `/${path.split('/').map(encodeURIComponent).join('/')}`
  }`;

async function put(service: string, path: string, file: string, flags: ApiFlags): Promise<void> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new CliError(`${file}: no such file`, 2);
  }
  if (size > maxBytes) throw new CliError(`${file}: ${formatBytes(size)}, a private file may hold at most 1 MiB`, 2);
  const content = readFileSync(file);
  const stored = await clientFor(flags).request<PrivateFile>(
    'PUT',
    route(service, path),
    new Blob([content]).stream(),
    { headers: { 'content-type': 'application/octet-stream' } },
  );
  // The server hashes what it received: a mismatch means the upload was altered on the way.
  const local = createHash('sha256').update(content).digest('hex');
  if (stored.sha256 !== local) throw new CliError(`the server stored sha256 ${stored.sha256}, the file has ${local}`);
  if (flags.json) printResult(stored, { json: true });
  else
    process.stdout.write(
      `stored ${service} ${path} (${formatBytes(stored.size)}, sha256 ${stored.sha256.slice(0, 12)}…), encrypted\n`,
    );
}

async function list(service: string, flags: ApiFlags): Promise<void> {
  const { files } = await clientFor(flags).request<PrivateFileList>('GET', route(service));
  printResult(files, {
    json: flags.json,
    rows: files.map((f) => ({
      path: f.path,
      size: formatBytes(f.size),
      sha256: f.sha256.slice(0, 12),
      updated: formatTime(f.updatedAt),
      by: f.updatedBy,
    })),
    columns: ['path', 'size', 'sha256', 'updated', 'by'],
    empty: `service "${service}" has no private files`,
  });
}

async function remove(service: string, path: string, flags: ApiFlags): Promise<void> {
  await clientFor(flags).request('DELETE', route(service, path));
  if (flags.json) printResult({ removed: path }, { json: true });
  else process.stdout.write(`removed ${service} ${path}\n`);
}

/** `flotilla private-file put|list|rm`: a service's private files (stored encrypted, read only by builds). */
export function registerPrivateFileCommands(program: Command): void {
  const group = program
    .command('private-file')
    .description("a service's private files (keys, licences): stored encrypted, listed by hash, read only by builds");
  withApiOptions(group.command('put <service> <path> <file>').description('upload or replace a private file'))
    .addHelpText('after', examples(['flotilla private-file put web conf/license.key ./license.key']))
    .action((service: string, path: string, file: string, _f: ApiFlags, cmd: Command) =>
      put(service, path, file, cmd.optsWithGlobals<ApiFlags>()),
    );
  withApiOptions(group.command('list <service>').alias('ls').description('path, size and sha256 of each private file'))
    .addHelpText('after', examples(['flotilla private-file list web', 'flotilla private-file list web --json']))
    .action((service: string, _f: ApiFlags, cmd: Command) => list(service, cmd.optsWithGlobals<ApiFlags>()));
  withApiOptions(group.command('rm <service> <path>').description('remove a private file'))
    .addHelpText('after', examples(['flotilla private-file rm web conf/license.key']))
    .action((service: string, path: string, _f: ApiFlags, cmd: Command) =>
      remove(service, path, cmd.optsWithGlobals<ApiFlags>()),
    );
}
