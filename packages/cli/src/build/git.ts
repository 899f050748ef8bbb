// Sources of a build: git repositories cloned with the real `git` binary (never a shell), fetched
// again on rebuilds, checked out at an exact commit. No prompt ever waits for a password.
import { cpSync, existsSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { CliError } from '../api-client.ts';
import { directoryBytes, megabytes, type RepoLimits, treeCounter, untrustedLimits, watchSize } from './git-limits.ts';
import { runProcess } from './run-process.ts';

export interface SourceSpec {
  name: string;
  url: string;
  /** Branch, tag or commit as given; empty for the remote's default branch. */
  ref: string;
  subdir?: string;
  /** Its submodules are checked out too, recursively, at the commits the source's commit records. */
  submodules?: boolean;
}

export interface SubmoduleCommit {
  path: string;
  commit: string;
}

export interface FetchedSource extends SourceSpec {
  /** `<workdir>/source/<name>`: the tree the build sees. */
  root: string;
  commit: string;
  /** With `submodules`: each submodule's path in the repository and its commit. */
  submoduleCommits?: SubmoduleCommit[];
}

export interface GitOptions {
  timeoutMs: number;
  log: (line: string) => void;
  /**
   * Repositories someone else names (a consumer's settings, built by its provider): git runs without
   * this user's configuration and credential helpers, follows no redirect and speaks only http(s) and git.
   */
  untrusted?: boolean;
  /** Size bounds for the repository and its checkout; untrusted repositories get `untrustedLimits`. */
  limits?: RepoLimits;
}

export function limitsOf(opts: GitOptions): RepoLimits | undefined {
  return opts.limits ?? (opts.untrusted ? untrustedLimits : undefined);
}

/** The configuration git gets for untrusted repositories: nothing of the user's, no redirects, no helpers. */
const untrustedConfig = ['-c', 'http.followRedirects=false', '-c', 'credential.helper=', '-c', 'core.askPass='];
const untrustedEnv = {
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_ALLOW_PROTOCOL: 'http:https:git',
  GIT_ASKPASS: '/bin/false',
  SSH_ASKPASS: '/bin/false',
};

const namePattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const refPattern = /^(?!-)(?!.*\.\.)[A-Za-z0-9._/+@-]{1,255}$/;

function usage(text: string, why: string): CliError {
  return new CliError(`--source ${text}: ${why} (expected name=<git url>[#ref][:subdir])`, 2);
}

/**
 * Parses `name=<url>[#ref[:subdir]]`. The name ends at the first `=`, the URL at the first `#`, the ref
 * at the next `:` (git refs cannot hold `:`), so URLs with `:` (`https://`, `git@host:path`) stay whole;
 * a subdirectory of the default branch is `url#:subdir`.
 */
export function parseSource(text: string): SourceSpec {
  const eq = text.indexOf('=');
  const name = eq < 0 ? '' : text.slice(0, eq);
  if (!namePattern.test(name)) throw usage(text, 'the name takes letters, digits, - and _');
  const rest = text.slice(eq + 1);
  const hash = rest.indexOf('#');
  const url = hash < 0 ? rest : rest.slice(0, hash);
  if (url === '' || url.startsWith('-')) throw usage(text, 'no git URL');
  const fragment = hash < 0 ? '' : rest.slice(hash + 1);
  const colon = fragment.indexOf(':');
  const ref = colon < 0 ? fragment : fragment.slice(0, colon);
  if (ref !== '' && !refPattern.test(ref)) throw usage(text, `"${ref}" is not a branch, tag or commit`);
  if (colon < 0) return { name, url, ref };
  const subdir = posix.normalize(fragment.slice(colon + 1)).replace(/\/+$/, '');
  if (subdir === '' || subdir === '.' || subdir.startsWith('/') || subdir === '..' || subdir.startsWith('../')) {
    throw usage(text, 'the subdirectory must be a relative path inside the repository');
  }
  return { name, url, ref, subdir };
}

/** The URL without user name or password, as provenance and messages show it. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

export class GitError extends Error {
  override name = 'GitError';
}

/** A fetch stopped at the repository's size limit. */
export class RepoTooLarge extends GitError {
  override name = 'RepoTooLarge';
}

/**
 * Runs git. With `grows` (a clone or fetch), the repository's `.git` is watched and git is stopped
 * once it holds more than the limit for this repository, if there is one.
 */
async function git(
  args: string[],
  cwd: string,
  opts: GitOptions,
  secret: string,
  more: { env?: NodeJS.ProcessEnv; grows?: string; onStdout?: (chunk: Buffer) => void } = {},
): Promise<string> {
  const { env = {}, grows, onStdout } = more;
  const limit = grows !== undefined ? limitsOf(opts)?.repoBytes : undefined;
  const tooBig = new AbortController();
  const stopWatching =
    limit !== undefined ? watchSize(join(grows as string, '.git'), limit, () => tooBig.abort()) : undefined;
  const result = await runProcess('git', opts.untrusted ? [...untrustedConfig, ...args] : args, {
    cwd,
    timeoutMs: opts.timeoutMs,
    keepStdout: true,
    abort: tooBig.signal,
    ...(onStdout ? { onStdout } : {}),
    env: {
      ...process.env,
      ...env,
      ...(opts.untrusted ? untrustedEnv : {}),
      GIT_TERMINAL_PROMPT: '0',
      GCM_INTERACTIVE: 'never',
      GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? 'ssh -o BatchMode=yes',
      LC_ALL: 'C',
    },
  });
  stopWatching?.();
  const hide = (s: string) => (secret === '' ? s : s.split(secret).join(redactUrl(secret)));
  // The watch looks now and then; a fast fetch may finish between two looks.
  const over = limit !== undefined && (result.aborted || directoryBytes(join(grows as string, '.git')) > limit);
  if (over) {
    throw new RepoTooLarge(
      `git ${args[0]} stopped: ${hide(secret) || 'the repository'} is larger than ${megabytes(limit)}`,
    );
  }
  if (result.spawnError) throw new GitError(`cannot run git: ${result.spawnError.message}`);
  if (result.timedOut) throw new GitError(`git ${hide(args[0] ?? '')} timed out after ${opts.timeoutMs / 1000} s`);
  if (result.code !== 0) {
    const why = hide(result.output.trim().split('\n').slice(-5).join('\n'));
    throw new GitError(`git ${args[0]} failed (exit ${result.code ?? result.signal}): ${why}`);
  }
  return result.stdout;
}

async function ensureClone(dir: string, url: string, opts: GitOptions): Promise<void> {
  if (existsSync(join(dir, '.git'))) {
    const origin = await git(['config', '--get', 'remote.origin.url'], dir, opts, url).catch(() => '');
    if (origin.trim() === url) {
      opts.log(`fetching ${redactUrl(url)} into ${dir}`);
      await git(['fetch', '--quiet', '--force', '--prune', '--tags', 'origin'], dir, opts, url, { grows: dir });
      await git(['remote', 'set-head', 'origin', '--auto'], dir, opts, url);
      return;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  opts.log(`cloning ${redactUrl(url)} into ${dir}`);
  try {
    await git(['clone', '--quiet', '--no-checkout', '--', url, dir], dir, opts, url, { grows: dir });
  } catch (err) {
    // A clone stopped halfway is no cache for the next build.
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function revParse(dir: string, rev: string, opts: GitOptions): Promise<string | undefined> {
  const out = await git(
    ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`],
    dir,
    opts,
    '',
  ).catch(() => '');
  return out.trim() || undefined;
}

async function resolveRef(dir: string, source: SourceSpec, opts: GitOptions): Promise<string> {
  if (source.ref === '') {
    const head = await revParse(dir, 'refs/remotes/origin/HEAD', opts);
    if (head) return head;
    throw new GitError(`${redactUrl(source.url)} has no default branch; give one after #`);
  }
  const candidates = [`refs/remotes/origin/${source.ref}`, `refs/tags/${source.ref}`];
  const hex = /^[0-9a-f]{7,64}$/i.test(source.ref);
  if (hex) candidates.push(source.ref);
  for (const c of candidates) {
    const sha = await revParse(dir, c, opts);
    if (sha) return sha;
  }
  if (hex && source.ref.length >= 40) {
    // A commit that no branch or tag reaches: asked for by name, when the server allows it.
    await git(['fetch', '--quiet', 'origin', source.ref], dir, opts, source.url, { grows: dir }).catch(
      (err: unknown) => {
        if (err instanceof RepoTooLarge) throw err;
      },
    );
    const sha = await revParse(dir, source.ref, opts);
    if (sha) return sha;
  }
  throw new GitError(`${redactUrl(source.url)} has no branch, tag or commit "${source.ref}"`);
}

/**
 * Brings `<workdir>/source/<name>` to the exact commit of the source's ref and returns that commit.
 * A whole repository is cloned there; with a subdirectory, the clone is kept in `<workdir>/git/<name>`
 * and only the subdirectory's tree is written to the source directory.
 */
export async function fetchSource(workdir: string, source: SourceSpec, opts: GitOptions): Promise<FetchedSource> {
  const root = join(workdir, 'source', source.name);
  const clone = cloneDir(workdir, source);
  let commit: string;
  try {
    await ensureClone(clone, source.url, opts);
    commit = await resolveRef(clone, source, opts);
  } catch (err) {
    // What a stopped fetch brought stays out of the cache: the next build starts clean.
    if (err instanceof RepoTooLarge) rmSync(clone, { recursive: true, force: true });
    throw err;
  }
  opts.log(`${source.name}: ${source.ref || 'default branch'} is ${commit}`);
  await checkTreeSize(clone, source, commit, opts);
  if (source.subdir === undefined || source.submodules) {
    await git(['checkout', '--quiet', '--force', '--detach', commit], clone, opts, '');
    // Leftovers of an earlier build go, so every build starts from the committed files only.
    await git(['clean', '-ffdxq'], clone, opts, '');
  }
  // Submodules an earlier build checked out here go when this one does not ask for them.
  if (!source.submodules && existsSync(join(clone, '.git', 'modules'))) {
    await git(['submodule', 'deinit', '--quiet', '--all', '--force'], clone, opts, '').catch(() => '');
    rmSync(join(clone, '.git', 'modules'), { recursive: true, force: true });
  }
  const submoduleCommits = source.submodules ? await updateSubmodules(clone, source, opts) : undefined;
  const fetched = { ...source, root, commit, ...(submoduleCommits ? { submoduleCommits } : {}) };
  if (source.subdir === undefined) return fetched;
  if (submoduleCommits) {
    const from = join(clone, source.subdir);
    if (!existsSync(from) || !lstatSync(from).isDirectory()) {
      throw new GitError(`${source.name}: "${source.subdir}" is not a directory at ${commit}`);
    }
    rmSync(root, { recursive: true, force: true });
    // The checked-out subdirectory with its submodules, without their `.git` links.
    cpSync(from, root, { recursive: true, verbatimSymlinks: true, filter: (src) => basename(src) !== '.git' });
    return fetched;
  }
  const tree = `${commit}:${source.subdir}`;
  const kind = await git(['cat-file', '-t', tree], clone, opts, '').catch(() => '');
  if (kind.trim() !== 'tree') throw new GitError(`${source.name}: "${source.subdir}" is not a directory at ${commit}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const index = join(workdir, 'git', `${source.name}.index`);
  try {
    await git(['read-tree', tree], clone, opts, '', { env: { GIT_INDEX_FILE: index } });
    await git(['checkout-index', '--all', '--force', `--prefix=${root}/`], clone, opts, '', {
      env: { GIT_INDEX_FILE: index },
    });
  } finally {
    rmSync(index, { force: true });
  }
  return fetched;
}

/** Refuses, before anything is written, a tree larger than the repository's limits allow. */
async function checkTreeSize(clone: string, source: SourceSpec, commit: string, opts: GitOptions): Promise<void> {
  const limits = limitsOf(opts);
  if (!limits) return;
  const tree = source.subdir === undefined ? commit : `${commit}:${source.subdir}`;
  // Counted as it streams: a listing longer than the output kept in memory is still counted whole.
  const counter = treeCounter();
  await git(['ls-tree', '-r', '-l', '-z', tree], clone, opts, '', { onStdout: counter.push }).catch(() => '');
  const { bytes, files } = counter.result();
  if (files > limits.files) {
    throw new GitError(`${source.name}: ${files} files at ${commit}, more than the ${limits.files} allowed`);
  }
  if (bytes > limits.treeBytes) {
    throw new GitError(
      `${source.name}: ${megabytes(bytes)} of files at ${commit}, more than ${megabytes(limits.treeBytes)}`,
    );
  }
}

/** The clone of a fetched source: its tree, or for a subdirectory the whole repository kept beside it. */
function cloneDir(workdir: string, source: SourceSpec): string {
  return source.subdir === undefined ? join(workdir, 'source', source.name) : join(workdir, 'git', source.name);
}

/** Tags `commit` of a fetched source as `tag` and pushes the tag to its remote (the spec's source tagging). */
export async function tagSource(
  workdir: string,
  source: SourceSpec,
  commit: string,
  tag: string,
  opts: GitOptions,
): Promise<void> {
  const dir = cloneDir(workdir, source);
  await git(['check-ref-format', `refs/tags/${tag}`], dir, opts, '').catch(() => {
    throw new GitError(`"${tag}" cannot be a git tag`);
  });
  await git(['tag', '--force', '--end-of-options', tag, commit], dir, opts, '');
  await git(['push', '--quiet', 'origin', `refs/tags/${tag}:refs/tags/${tag}`], dir, opts, source.url);
}

/** Checks out every submodule (recursively) at its recorded commit; their paths and commits. */
async function updateSubmodules(clone: string, source: SourceSpec, opts: GitOptions): Promise<SubmoduleCommit[]> {
  await git(['submodule', 'sync', '--quiet', '--recursive'], clone, opts, '');
  await git(['submodule', 'update', '--quiet', '--init', '--recursive', '--force'], clone, opts, '');
  await git(['submodule', 'foreach', '--quiet', '--recursive', 'git clean -ffdxq'], clone, opts, '');
  const status = await git(['submodule', 'status', '--recursive'], clone, opts, '');
  const found: SubmoduleCommit[] = [];
  for (const line of status.split('\n')) {
    const m = /^[ +U-]?([0-9a-f]{40,64}) (\S+)/.exec(line);
    if (m) found.push({ path: m[2] as string, commit: m[1] as string });
  }
  opts.log(
    `${source.name}: ${found.length} submodule${found.length === 1 ? '' : 's'}${found.map((s) => ` ${s.path}@${s.commit.slice(0, 12)}`).join('')}`,
  );
  return found;
}
