// The update transaction: download → verify → unpack → install → stop-old → switch → post-install →
// start-new → health-gate → commit, each journaled begin/done; any failure undoes what was done.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { InstallManifest } from '@flotilla/protocol';
import { Journal } from '../journal/journal.ts';
import { type AgentLayout, pruneVersions } from '../layout.ts';
import type { ServiceSupervisor } from '../supervisor/types.ts';
import { CommandFailed, type Macros, runCommands } from './commands.ts';
import { DownloadUnavailable, downloadArtifact, type ServerAccess, sha256File } from './download.ts';
import { describeFailure, GateFailed } from './failure.ts';
import { clearFailedVersion, recordFailedVersion, saveManifest, setCurrent, shouldAttempt } from './state.ts';
import { journaled, startVersion, type TxContext, type UpdateHooks, undoSteps } from './undo.ts';
import { type UnpackLimits, unpackArchive } from './unpack.ts';
import { canonicalJson, checkArtifact, type TrustedKey, VerificationError, verifySignedManifest } from './verify.ts';

export interface UpdateTarget {
  version: string;
  signedManifest: string;
  signature: string;
  /** The server's unsigned copy; refused when it differs from the signed one, which is what is used. */
  manifest?: InstallManifest;
}

export interface RunUpdateOptions {
  layout: AgentLayout;
  service: string;
  role?: string;
  /** The running version, or null for a first install. */
  from: { version: string; dir: string } | null;
  to: UpdateTarget;
  supervisor: ServiceSupervisor;
  /** Defaults to `services/<name>/journal.log`. */
  journal?: Journal;
  trust: TrustedKey;
  server: ServerAccess;
  /** Version directories kept after a commit (default 3). */
  keepVersions?: number;
  limits?: UnpackLimits;
  hooks?: UpdateHooks;
  /** Health probe poll interval (default 200 ms). */
  gateIntervalMs?: number;
}

export interface UpdateResult {
  outcome: 'committed' | 'rolled-back' | 'skipped';
  txId: string | null;
  /** The version running (or installed, for library-only services) afterwards. */
  version: string | null;
  /** Why it failed (the cause alone). */
  reason?: string;
  /** What happened, in one sentence: what failed, why, and what runs now (see failure.ts). */
  summary?: string;
  /** Last output lines of the failed process or command. */
  output?: string[];
  /** The server could not be reached for the artifact: not the version's fault, so try again later. */
  retryable?: boolean;
}

export class UpdateRefused extends Error {
  override name = 'UpdateRefused';
}

/**
 * Updates one service. The signed manifest is verified before anything is written; a bad signature
 * throws VerificationError and changes nothing. Other failures roll back and resolve `rolled-back`.
 */
export async function runUpdate(options: RunUpdateOptions): Promise<UpdateResult> {
  const { layout: agent, service, to, supervisor } = options;
  const layout = agent.service(service);
  const verified = verifySignedManifest(options.trust, to, { service, version: to.version });
  if (to.manifest && canonicalJson(to.manifest) !== canonicalJson(verified.manifest)) {
    throw new VerificationError('the unsigned manifest differs from the signed one');
  }
  if (options.from?.version === to.version) throw new UpdateRefused(`${service} ${to.version} is already running`);
  if (!shouldAttempt(layout, to.version))
    return {
      outcome: 'skipped',
      txId: null,
      version: options.from?.version ?? null,
      reason: `${to.version} failed before`,
    };
  const journal = options.journal ?? new Journal(layout.journal);
  if (journal.openTransaction()) throw new UpdateRefused(`${service} has an unfinished update; run recovery first`);

  const role = options.role ?? '';
  const toDir = layout.versionDir(to.version);
  const macros: Macros = { version: to.version, role };
  const ctx: TxContext = {
    txId: randomUUID(),
    service,
    role,
    layout,
    downloadFile: join(agent.downloads, `${service}-${to.version}.tar.gz`),
    from: options.from,
    toVersion: to.version,
    supervisor,
    journal,
    hooks: options.hooks ?? {},
  };
  if (options.gateIntervalMs !== undefined) ctx.gateIntervalMs = options.gateIntervalMs;
  const begun = new Set<string>();
  const step = <T>(name: string, fn: () => Promise<T> | T): Promise<T> => {
    begun.add(name);
    return journaled(ctx, name, fn);
  };
  journal.append({
    txId: ctx.txId,
    step: 'transaction',
    phase: 'begin',
    data: { service, role, from: options.from, to: { version: to.version } },
  });
  ctx.hooks.afterJournal?.('transaction', 'begin');

  let output: string[] = [];
  try {
    await step('download', () => downloadArtifact({ server: options.server, verified, file: ctx.downloadFile }));
    await step('verify', async () => {
      checkArtifact(verified, await sha256File(ctx.downloadFile));
      saveManifest(layout, to.version, verified.manifest);
    });
    await step('unpack', () => unpackArchive(ctx.downloadFile, toDir, options.limits));
    // Install commands run while the old version still serves, to keep the outage short.
    await step('install', async () => {
      output = await runCommands(verified.manifest.install, toDir, macros);
    });
    if (options.from) await step('stop-old', () => supervisor.stop());
    await step('switch', () => setCurrent(layout, toDir));
    await step('post-install', async () => {
      output = await runCommands(verified.manifest.postInstall, layout.current, macros);
    });
    const gate = await step('start-new', () => startVersion(ctx, to.version, toDir));
    await step('health-gate', async () => {
      const r = await gate();
      if (!r.ok) throw new GateFailed(r);
    });
    await commit(ctx, options.keepVersions);
    return { outcome: 'committed', txId: ctx.txId, version: to.version };
  } catch (err) {
    const reason = causeOf(err, begun);
    if (err instanceof CommandFailed) output = err.output;
    else if (begun.has('start-new')) output = supervisor.tail(50);
    const retryable = err instanceof DownloadUnavailable;
    ctx.keepPartialDownload = retryable;
    const oldGate = await undoSteps(ctx, begun);
    const summary = describeFailure({
      service,
      from: options.from?.version ?? null,
      to: to.version,
      cause: err instanceof GateFailed ? err.gate.reason : reason,
      check: err instanceof GateFailed && err.gate.check === true,
      oldRestarted: begun.has('stop-old'),
      oldGate,
    });
    if (!retryable) recordFailedVersion(layout, to.version, reason, summary);
    journal.append({
      txId: ctx.txId,
      step: 'rolled-back',
      phase: 'done',
      data: { reason, summary, output: output.slice(-50) },
    });
    return {
      outcome: 'rolled-back',
      txId: ctx.txId,
      version: options.from?.version ?? null,
      reason,
      summary,
      output: output.slice(-50),
      ...(retryable ? { retryable } : {}),
    };
  }
}

/** The cause of a failed step in words; install commands are named as such. */
function causeOf(err: unknown, begun: Set<string>): string {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof CommandFailed) {
    return `${begun.has('post-install') ? 'post-install' : 'install'} command ${message}`;
  }
  return message;
}

/** The commit step: prune old versions, forget the failed version, close the transaction. */
export async function commit(ctx: TxContext, keepVersions?: number): Promise<void> {
  await journaled(ctx, 'commit', () => {
    clearFailedVersion(ctx.layout);
    const protect = [ctx.toVersion];
    pruneVersions(ctx.layout, keepVersions === undefined ? { protect } : { keep: keepVersions, protect });
  });
  ctx.journal.append({ txId: ctx.txId, step: 'committed', phase: 'done', data: { version: ctx.toVersion } });
}
