// One client build: the developer version's unpacked tree, the settings repositories fetched, the
// overlays applied (all checked before anything is written), and flotilla.json completed with the
// client section of the provenance. Downloading and publishing are the caller's.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientProvenance, InstallManifest } from '@flotilla/protocol';
import * as tar from 'tar';
import type { BuildLog } from './build-log.ts';
import { type FetchedSource, fetchSource, GitError, redactUrl, type SourceSpec } from './git.ts';
import { applyOverlays, type OverlayReport } from './overlay/apply-overlays.ts';
import { addPrivateFiles } from './private-files.ts';
import { BuildStepError } from './step-error.ts';

/** Settings repositories of one client build. */
export const maxSettings = 32;

export interface ClientSettingsFetch {
  settings: SourceSpec[];
  workdir: string;
  gitTimeoutMs: number;
  log: BuildLog;
  /** Settings someone else named (a consumer's): fetched with git's user configuration left out. */
  untrusted?: boolean;
}

/** Brings every settings repository to its commit under `<workdir>/source/<name>`. */
export async function fetchSettings(req: ClientSettingsFetch): Promise<FetchedSource[]> {
  const names = new Set(req.settings.map((s) => s.name));
  if (names.size !== req.settings.length) throw new BuildStepError('settings', 'two settings have the same name');
  if (req.settings.length > maxSettings) throw new BuildStepError('settings', `at most ${maxSettings} settings`);
  mkdirSync(join(req.workdir, 'source'), { recursive: true, mode: 0o700 });
  // Repositories of earlier builds that this one does not name go.
  for (const sub of ['source', 'git']) {
    const dir = join(req.workdir, sub);
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir)) {
      if (!names.has(entry)) rmSync(join(dir, entry), { recursive: true, force: true });
    }
  }
  const fetched: FetchedSource[] = [];
  for (const source of req.settings) {
    try {
      fetched.push(
        await fetchSource(req.workdir, source, {
          timeoutMs: req.gitTimeoutMs,
          log: (l) => req.log.line(l),
          ...(req.untrusted ? { untrusted: true } : {}),
        }),
      );
    } catch (err) {
      if (err instanceof GitError) throw new BuildStepError(`settings ${source.name}`, err.message);
      throw err;
    }
  }
  return fetched;
}

/** A private file of a server build: its path in the version and the SHA-256 of its content. */
export interface PrivateFileDigest {
  path: string;
  sha256: string;
}

/** Every private file a server build was given, by path. */
export function privateFileDigests(dir: string): PrivateFileDigest[] {
  const found: PrivateFileDigest[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        found.push({
          path,
          sha256: createHash('sha256')
            .update(readFileSync(join(dir, path)))
            .digest('hex'),
        });
      }
    }
  };
  if (existsSync(dir)) walk('');
  return found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * What makes a client version: the developer artifact, each settings tree's commit (and subdirectory,
 * in order), the macro values, the private files' contents and the consumer it is for. Two builds
 * with equal inputs make the same version.
 */
export function clientInputs(
  developerDigest: string,
  settings: FetchedSource[],
  macros: Record<string, string>,
  privateFiles: PrivateFileDigest[] = [],
  consumer: string | null = null,
): string {
  const canonical = JSON.stringify({
    developer: developerDigest,
    settings: settings.map((s) => [s.name, s.subdir ?? '', s.commit]),
    macros: Object.entries(macros).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    // Only when present, so the inputs of builds without them stay what they were.
    ...(privateFiles.length > 0 ? { privateFiles: privateFiles.map((f) => [f.path, f.sha256]) } : {}),
    ...(consumer !== null ? { consumer } : {}),
  });
  return createHash('sha256').update(canonical).digest('hex');
}

export interface ClientBuildRequest {
  developerVersion: string;
  developerDigest: string;
  /** The developer version's manifest as the catalog holds it: its provenance is kept as it is. */
  developerManifest: InstallManifest;
  artifact: string;
  settings: FetchedSource[];
  macros: Record<string, string>;
  generation: number;
  inputs: string;
  workdir: string;
  builder: string;
  log: BuildLog;
  startedAt: string;
  /** A server build's decrypted private files, added to the version last. */
  privateFilesDir?: string;
  /** The consumer server the provider builds it for. */
  consumer?: string;
}

export interface ClientBuildResult {
  buildDir: string;
  manifest: InstallManifest;
  report: OverlayReport;
}

export async function runClientBuild(req: ClientBuildRequest): Promise<ClientBuildResult> {
  const buildDir = join(req.workdir, 'build');
  rmSync(buildDir, { recursive: true, force: true });
  mkdirSync(buildDir, { recursive: true });
  await tar.x({ file: req.artifact, cwd: buildDir });
  req.log.line(`unpacked ${req.developerVersion} (${req.developerDigest}) to ${buildDir}`);
  const report = applyOverlays({
    buildDir,
    settings: req.settings.map((s) => ({ name: s.name, dir: s.root })),
    macros: req.macros,
  });
  for (const file of report.files) {
    const via = [...(file.from ? [file.from] : []), ...file.overlays, ...file.definesFiles];
    req.log.line(`${file.action} ${file.path}${via.length > 0 ? ` (${via.join(', ')})` : ''}`);
  }
  const privateFiles = req.privateFilesDir !== undefined ? addPrivateFiles(req.privateFilesDir, buildDir) : [];
  if (privateFiles.length > 0) req.log.line(`added ${privateFiles.length} private files: ${privateFiles.join(', ')}`);
  const manifestPath = join(buildDir, 'flotilla.json');
  const completed = JSON.parse(readFileSync(manifestPath, 'utf8')) as InstallManifest;
  req.log.line('client build finished; the log ends here');
  const logged = req.log.close();
  const client: ClientProvenance = {
    builder: req.builder,
    developerVersion: req.developerVersion,
    developerDigest: req.developerDigest,
    generation: req.generation,
    settings: req.settings.map((s) => ({
      name: s.name,
      url: redactUrl(s.url),
      ref: s.ref,
      ...(s.subdir !== undefined ? { subdir: s.subdir } : {}),
      commit: s.commit,
    })),
    macros: Object.keys(req.macros).sort(),
    inputs: req.inputs,
    ...(privateFiles.length > 0 ? { privateFiles } : {}),
    ...(req.consumer !== undefined ? { consumer: req.consumer } : {}),
    log: logged,
    startedAt: req.startedAt,
    finishedAt: new Date().toISOString(),
  };
  // Provenance is the builders', never the settings': the developer's stays as signed, the client's is added.
  const { provenance: _drop, client: _dropClient, ...rest } = completed;
  const manifest: InstallManifest = {
    ...rest,
    ...(req.developerManifest.provenance ? { provenance: req.developerManifest.provenance } : {}),
    client,
  };
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return { buildDir, manifest, report };
}
