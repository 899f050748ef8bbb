// One local build: sources fetched, update.json read and translated, build commands run, files
// copied, and flotilla.json written with the provenance of it all. Publishing is the caller's.
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InstallManifest, ManifestProvenance } from '@flotilla/protocol';
import { BuildLog } from './build-log.ts';
import { copyFiles } from './copy-files.ts';
import { type FetchedSource, fetchSource, GitError, redactUrl, type SourceSpec } from './git.ts';
import { addPrivateFiles } from './private-files.ts';
import { runBuildCommands } from './run-commands.ts';
import { loadSpec } from './spec/load-spec.ts';
import { BuildStepError } from './step-error.ts';
import { lockWorkdir } from './workdir-lock.ts';

/** Sources of one build: the provenance's bound. */
export const maxSources = 32;

export interface BuildRequest {
  service: string;
  version: string;
  sources: SourceSpec[];
  /** The --macro values (never `version` or `role`). */
  macros: Record<string, string>;
  /** Sources, build directory and logs of this service's builds; reused by the next build. */
  workdir: string;
  commandTimeoutMs: number;
  gitTimeoutMs: number;
  killGraceMs?: number;
  builder: string;
  /** Step lines as they happen, e.g. to stderr. */
  echo?: (text: string) => void;
  /** The commands' output as it comes, too (a build on the server). */
  echoOutput?: (chunk: Buffer) => void;
  /** Files the server decrypted for this build, added to the version at the same paths (mode 0600). */
  privateFilesDir?: string;
}

export interface BuildResult {
  buildDir: string;
  manifest: InstallManifest;
  logPath: string;
  files: number;
  bytes: number;
}

/** Sources of earlier builds that this one does not name go, so `../<name>` finds only this build's. */
function dropOtherSources(workdir: string, names: Set<string>): void {
  for (const sub of ['source', 'git']) {
    const dir = join(workdir, sub);
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir)) {
      if (!names.has(entry)) rmSync(join(dir, entry), { recursive: true, force: true });
    }
  }
}

export async function runBuild(req: BuildRequest): Promise<BuildResult> {
  const { workdir } = req;
  const names = new Set(req.sources.map((s) => s.name));
  if (req.sources.length === 0) throw new BuildStepError('sources', 'give at least one --source');
  if (names.size !== req.sources.length) throw new BuildStepError('sources', 'two sources have the same name');
  if (req.sources.length > maxSources) throw new BuildStepError('sources', `at most ${maxSources} sources`);
  const unlock = lockWorkdir(workdir);
  const startedAt = new Date().toISOString();
  const log = new BuildLog(join(workdir, 'logs', `${req.version}.log`), req.echo, req.echoOutput);
  try {
    log.line(`building ${req.service} ${req.version} with ${req.builder}`);
    dropOtherSources(workdir, names);
    const fetched: FetchedSource[] = [];
    for (const source of req.sources) {
      try {
        fetched.push(await fetchSource(workdir, source, { timeoutMs: req.gitTimeoutMs, log: (l) => log.line(l) }));
      } catch (err) {
        if (err instanceof GitError) throw new BuildStepError(`source ${source.name}`, err.message);
        throw err;
      }
    }
    const first = fetched[0] as FetchedSource;
    const spec = loadSpec(first.root, req.service);
    log.line(`${spec.file} (sha256 ${spec.sha256}) from ${first.name}`);
    // Translated first: a spec the agent could not follow is refused before any build time is spent.
    const { manifest, notes } = spec.toManifest(req.macros);
    for (const note of notes) log.line(`note: ${note}`);
    const sourcesDir = join(workdir, 'source');
    const macros = { ...req.macros, version: req.version };
    await runBuildCommands(spec.buildCommands, {
      sourcesDir,
      firstRoot: first.root,
      macros,
      timeoutMs: req.commandTimeoutMs,
      killGraceMs: req.killGraceMs,
      log,
      specFile: spec.file,
    });
    const buildDir = join(workdir, 'build');
    rmSync(buildDir, { recursive: true, force: true });
    const stats = copyFiles(spec.copyFiles, {
      sourcesDir,
      firstRoot: first.root,
      buildDir,
      macros,
      specFile: spec.file,
    });
    log.line(`copied ${stats.files} files (${stats.bytes} bytes) to ${buildDir}`);
    if (req.privateFilesDir !== undefined) {
      const added = addPrivateFiles(req.privateFilesDir, buildDir);
      if (added.length > 0) log.line(`added ${added.length} private files: ${added.join(', ')}`);
    }
    log.line('build finished; the log ends here');
    const logged = log.close();
    const provenance: ManifestProvenance = {
      builder: req.builder,
      sources: fetched.map((s) => ({
        name: s.name,
        url: redactUrl(s.url),
        ref: s.ref,
        ...(s.subdir !== undefined ? { subdir: s.subdir } : {}),
        commit: s.commit,
        ...(s.submoduleCommits ? { submodules: s.submoduleCommits } : {}),
      })),
      spec: { file: `${first.name}/${spec.file}`, sha256: spec.sha256 },
      log: logged,
      startedAt,
      finishedAt: new Date().toISOString(),
    };
    const full: InstallManifest = { ...manifest, provenance };
    writeFileSync(join(buildDir, 'flotilla.json'), `${JSON.stringify(full, null, 2)}\n`);
    return { buildDir, manifest: full, logPath: log.path, ...stats };
  } catch (err) {
    log.line(`build failed: ${(err as Error).message}`);
    log.close();
    throw err;
  } finally {
    unlock();
  }
}
