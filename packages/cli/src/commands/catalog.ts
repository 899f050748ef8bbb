import { createHash, createPublicKey, verify } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type {
  Profile,
  ProfileList,
  Service,
  ServiceList,
  SigningKey,
  VersionDetail,
  VersionList,
} from '@flotilla/protocol';
import { type Command, Option } from 'commander';
import * as tar from 'tar';
import { apiError, CliError, resolveLogin, unreachable } from '../api-client.ts';
import { type ApiFlags, clientFor, withApiOptions } from '../command-helpers.ts';
import { examples } from '../help.ts';
import { columnHeader, formatTable, formatTime, printResult, shorten } from '../output.ts';

const enc = encodeURIComponent;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A directory becomes a temp .tar.gz (its contents at the archive root); a file is used as is. */
async function artifactFile(path: string): Promise<{ file: string; cleanup: () => void }> {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    throw new CliError(`${path}: no such file or directory`, 2);
  }
  if (!st.isDirectory()) return { file: path, cleanup: () => {} };
  if (!existsSync(join(path, 'flotilla.json'))) throw new CliError(`${path}: no flotilla.json in the directory`, 2);
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-pack-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const file = join(dir, 'artifact.tar.gz');
  try {
    await tar.c({ gzip: true, file, cwd: path, portable: true }, ['.']);
  } catch (err) {
    cleanup();
    throw err;
  }
  return { file, cleanup };
}

/** Counts bytes as they pass; draws `sent / total (pct)` on stderr when it is a terminal. */
function progress(total: number, label: string): Transform {
  const tty = process.stderr.isTTY === true;
  let sent = 0;
  let last = 0;
  const draw = () => {
    const pct = total > 0 ? Math.floor((sent / total) * 100) : 100;
    process.stderr.write(`\r${label} ${formatBytes(sent)} / ${formatBytes(total)} (${pct}%)\x1b[K`);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      sent += chunk.length;
      if (tty && (Date.now() - last > 100 || sent === total)) {
        last = Date.now();
        draw();
      }
      done(null, chunk);
    },
    flush(done) {
      if (tty) {
        draw();
        process.stderr.write('\n');
      }
      done();
    },
  });
}

/** A fetch with the resolved login, for the raw-byte routes that ApiClient's JSON path does not fit. */
export async function rawFetch(flags: ApiFlags, path: string, init: RequestInit = {}): Promise<Response> {
  const login = resolveLogin(flags);
  try {
    return await fetch(`${login.server}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${login.token}`, ...(init.headers as Record<string, string> | undefined) },
    });
  } catch (err) {
    throw unreachable(login.server, err);
  }
}

async function failure(method: string, path: string, res: Response): Promise<CliError> {
  return apiError(method, path, res.status, res.statusText, await res.text().catch(() => ''));
}

/** Checks the server's signature over the version's manifest with the server's published key. */
function signatureValid(key: SigningKey, v: VersionDetail): boolean {
  try {
    return verify(
      null,
      Buffer.from(v.signedManifest, 'utf8'),
      createPublicKey(key.publicKeyPem),
      Buffer.from(v.signature, 'base64'),
    );
  } catch {
    return false;
  }
}

/** The version's name is taken: published before, or by another publish that ran at the same time. */
export class VersionTaken extends CliError {}

/** Packs (a directory) and uploads a version; `flotilla build` publishes through it too. */
export async function publishVersion(
  service: string,
  version: string,
  path: string,
  opts: ApiFlags & { notes?: string },
): Promise<VersionDetail> {
  const client = clientFor(opts);
  const route = `/api/v1/services/${enc(service)}/versions/${enc(version)}`;
  // Checked first so a taken name is reported before a long upload, not after.
  const existing = await rawFetch(opts, route);
  if (existing.ok) throw new VersionTaken(`version ${version} of service "${service}" already exists`);
  await existing.body?.cancel();
  const { file, cleanup } = await artifactFile(path);
  try {
    const size = statSync(file).size;
    const sha = await sha256File(file);
    const query = new URLSearchParams({ sha256: sha, ...(opts.notes ? { notes: opts.notes } : {}) });
    const body = Readable.toWeb(createReadStream(file).pipe(progress(size, `uploading ${service} ${version}`)));
    return await client.request<VersionDetail>('PUT', `${route}?${query}`, body as ReadableStream, {
      headers: { 'content-type': 'application/gzip' },
    });
  } catch (err) {
    // Published by someone else between the check above and this upload.
    if (err instanceof CliError && err.detail?.endsWith('→ 409')) throw new VersionTaken(err.message, 1, err.detail);
    throw err;
  } finally {
    cleanup();
  }
}

/** The line `flotilla version publish` and `flotilla build` print for a published version. */
export function publishedLine(v: VersionDetail): string {
  return `published ${v.service} ${v.version}: ${v.digest} (${formatBytes(v.size)})\n`;
}

async function publish(service: string, version: string, path: string, opts: ApiFlags & { notes?: string }) {
  const created = await publishVersion(service, version, path, opts);
  if (opts.json) printResult(created, { json: true });
  else process.stdout.write(publishedLine(created));
}

async function download(service: string, version: string, opts: ApiFlags & { output?: string }) {
  const out = opts.output ?? `${service}-${version}.tar.gz`;
  const meta = await downloadVerified(service, version, out, opts);
  if (opts.json) printResult({ file: out, digest: meta.digest, size: meta.size, keyId: meta.keyId }, { json: true });
  else process.stdout.write(`${out}: ${meta.digest} verified (${formatBytes(meta.size)})\n`);
}

/** Downloads a version's artifact to `out`, checking its digest and the server's signature; `flotilla client-version build` uses it too. */
export async function downloadVerified(
  service: string,
  version: string,
  out: string,
  opts: ApiFlags,
): Promise<VersionDetail> {
  const client = clientFor(opts);
  const route = `/api/v1/services/${enc(service)}/versions/${enc(version)}`;
  const meta = await client.request<VersionDetail>('GET', route);
  const res = await rawFetch(opts, `${route}/artifact`);
  if (!res.ok || !res.body) throw await failure('GET', `${route}/artifact`, res);
  const part = `${out}.part`;
  const hash = createHash('sha256');
  const hasher = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
      hasher,
      progress(meta.size, `downloading ${service} ${version}`),
      createWriteStream(part),
    );
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== meta.digest) throw new CliError(`digest mismatch: expected ${meta.digest}, received ${got}`);
    const signed = JSON.parse(meta.signedManifest) as { digest?: string };
    const key = await client.request<SigningKey>('GET', '/api/v1/signing-key');
    if (signed.digest !== meta.digest || !signatureValid(key, meta)) {
      throw new CliError(`the signature of ${service} ${version} does not verify with key ${key.keyId}`);
    }
    await rename(part, out);
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  }
  return meta;
}

export async function listAllVersions(
  flags: ApiFlags,
  service: string,
  kind: 'developer' | 'client' | 'all' = 'developer',
): Promise<VersionList['versions']> {
  const client = clientFor(flags);
  const all: VersionList['versions'] = [];
  let cursor: string | null = null;
  // History is capped on the server, so a few pages at most; the bound guards against a loop.
  for (let page = 0; page < 100; page++) {
    const q = new URLSearchParams({
      limit: '500',
      ...(kind !== 'developer' ? { kind } : {}),
      ...(cursor ? { cursor } : {}),
    });
    const res: VersionList = await client.request<VersionList>('GET', `/api/v1/services/${enc(service)}/versions?${q}`);
    all.push(...res.versions);
    cursor = res.nextCursor;
    if (!cursor) break;
  }
  return all;
}

const serviceRow = (s: Service) => ({
  name: s.name,
  description: s.description,
  maxHistory: s.maxHistorySize,
});

export function registerCatalogCommands(program: Command): void {
  const service = program.command('service').description('services: the things Flotilla ships');
  withApiOptions(service.command('create <name>').description('create a service'))
    .option('--description <text>', 'what the service is')
    .addHelpText('after', examples(['flotilla service create web --description "the web front end"']))
    .action(async (name: string, opts: ApiFlags & { description?: string }) => {
      const created = await clientFor(opts).request<Service>('POST', '/api/v1/services', {
        name,
        ...(opts.description !== undefined ? { description: opts.description } : {}),
      });
      printResult(created, { json: opts.json, rows: [serviceRow(created)] });
    });
  withApiOptions(service.command('list').description('list services')).action(async (opts: ApiFlags) => {
    const res = await clientFor(opts).request<ServiceList>('GET', '/api/v1/services');
    printResult(res, {
      json: opts.json,
      rows: res.services.map(serviceRow),
      columns: ['name', 'description', 'maxHistory'],
      empty: 'no services yet: flotilla service create <name>',
    });
  });

  const profile = program.command('profile').description('profiles: named sets of services');
  withApiOptions(
    profile.command('set <name> <services...>').description("create or replace a profile's services"),
  ).action(async (name: string, services: string[], opts: ApiFlags) => {
    const res = await clientFor(opts).request<Profile>('PUT', `/api/v1/profiles/${enc(name)}`, { services });
    printResult(res, {
      json: opts.json,
      rows: [{ ...res, services: res.services.join(' ') }],
      columns: ['name', 'services'],
    });
  });
  withApiOptions(profile.command('list').description('list profiles')).action(async (opts: ApiFlags) => {
    const res = await clientFor(opts).request<ProfileList>('GET', '/api/v1/profiles');
    const rows = res.profiles.map((p) => ({ ...p, services: p.services.join(' ') }));
    printResult(res, { json: opts.json, rows, columns: ['name', 'services'], empty: 'no profiles yet' });
  });

  const version = program.command('version').description('versions: signed, content-addressed artifacts');
  withApiOptions(
    version
      .command('publish <service> <version> <path>')
      .description('publish a directory (packed to .tar.gz) or a .tar.gz with flotilla.json at its root'),
  )
    .option('--notes <text>', 'release notes')
    .addHelpText(
      'after',
      examples([
        'flotilla version publish web 1.0.0 ./web --notes "first release"',
        'flotilla version publish web 1.0.1 web-1.0.1.tar.gz',
      ]),
    )
    .action(publish);
  withApiOptions(version.command('list <service>').description('list versions, newest first'))
    .addOption(
      new Option('--kind <kind>', 'developer versions, client versions (<name>+client) or all')
        .choices(['developer', 'client', 'all'])
        .default('developer'),
    )
    .action(async (name: string, opts: ApiFlags & { kind: 'developer' | 'client' | 'all' }) => {
      const versions = await listAllVersions(opts, name, opts.kind);
      const kinds = opts.kind === 'developer' ? [] : ['kind', 'from'];
      const rows = versions.map((v) => ({
        version: v.version,
        kind: v.kind ?? 'developer',
        from: v.client?.developerVersion ?? '',
        notes: shorten(v.notes),
        author: v.author,
        created: formatTime(v.createdAt),
        size: formatBytes(v.size),
        digest: shortDigest(v.digest),
      }));
      printResult(
        { versions },
        {
          json: opts.json,
          rows,
          columns: ['version', ...kinds, 'notes', 'author', 'created', 'size', 'digest'],
          empty:
            opts.kind === 'client'
              ? `no client versions of ${name} yet: flotilla client-version build ${name} --from <version>`
              : `no versions of ${name} yet: flotilla version publish ${name} <version> <path>`,
        },
      );
    });
  withApiOptions(version.command('show <service> <version>').description('show a version and its manifest')).action(
    async (name: string, v: string, opts: ApiFlags) => {
      const res = await clientFor(opts).request<VersionDetail>(
        'GET',
        `/api/v1/services/${enc(name)}/versions/${enc(v)}`,
      );
      if (opts.json) return printResult(res, { json: true });
      const fields: Record<string, unknown> = {
        ...res,
        size: `${res.size} (${formatBytes(res.size)})`,
        created: formatTime(res.createdAt),
      };
      if (res.client) {
        fields.developerVersion = res.client.developerVersion;
        fields.settings = res.client.settings.map((x) => `${x.name}@${x.commit.slice(0, 12)}`).join(', ');
      }
      const keys = ['service', 'version', 'kind', 'developerVersion', 'settings', 'digest', 'size', 'author'];
      const rows = [...keys, 'created', 'notes', 'keyId']
        .filter((k) => fields[k] !== undefined)
        .map((k) => ({
          field: columnHeader(k).toLowerCase(),
          value: fields[k],
        }));
      process.stdout.write(formatTable(rows, ['field', 'value']));
      process.stdout.write(`manifest:\n${JSON.stringify(res.manifest, null, 2)}\n`);
    },
  );
  withApiOptions(
    version
      .command('download <service> <version>')
      .description('download an artifact and verify its digest and signature'),
  )
    .option('-o, --output <file>', 'where to write it (default: <service>-<version>.tar.gz)')
    .action(download);
}

/** `sha256:` and the first 12 hex digits: enough to tell versions apart in a table. */
function shortDigest(digest: string): string {
  return digest.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]+$/, '$1');
}
