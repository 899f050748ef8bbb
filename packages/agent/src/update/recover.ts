// Crash recovery on agent start: finish or roll back the open transaction of each service, so the
// service ends up running a healthy old or new version.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Journal, stepsOf } from '../journal/journal.ts';
import type { AgentLayout } from '../layout.ts';
import type { ServiceSupervisor } from '../supervisor/types.ts';
import { describeFailure, type FailureFacts } from './failure.ts';
import { killOrphans } from './orphans.ts';
import { recordFailedVersion, setCurrent } from './state.ts';
import { commit } from './transaction.ts';
import { startAndGate, type TxContext, type UpdateHooks, undoSteps } from './undo.ts';
import { removeUnpackLeftovers } from './unpack.ts';

export interface RecoveryResult {
  service: string;
  action: 'none' | 'committed' | 'rolled-back';
  txId: string | null;
  /** The version running afterwards (null: nothing to run, e.g. an interrupted first install). */
  version: string | null;
  healthy: boolean;
  reason?: string;
  /** What happened, in one sentence (see failure.ts). */
  summary?: string;
}

interface TxBegin {
  role?: string;
  from: { version: string; dir: string } | null;
  to: { version: string };
}

/**
 * Recovers one service. Processes left by the crashed agent are ended first (they are not this
 * supervisor's children), then: `commit` begun or health gate passed → start the new version and
 * commit; otherwise undo every begun step in reverse order and start the old version.
 */
export async function recoverService(options: {
  layout: AgentLayout;
  service: string;
  supervisor: ServiceSupervisor;
  hooks?: UpdateHooks;
  gateIntervalMs?: number;
  keepVersions?: number;
}): Promise<RecoveryResult> {
  const { service, supervisor } = options;
  const layout = options.layout.service(service);
  const journal = new Journal(layout.journal);
  const tx = journal.openTransaction();
  if (!tx) return { service, action: 'none', txId: null, version: null, healthy: true };
  const first = tx.records.find((r) => r.step === 'transaction' && r.phase === 'begin');
  const data = (first?.data ?? { from: null, to: { version: '' } }) as TxBegin;
  const ctx: TxContext = {
    txId: tx.txId,
    service,
    role: data.role ?? '',
    layout,
    downloadFile: join(options.layout.downloads, `${service}-${data.to.version}.tar.gz`),
    from: data.from,
    toVersion: data.to.version,
    supervisor,
    journal,
    hooks: options.hooks ?? {},
  };
  if (options.gateIntervalMs !== undefined) ctx.gateIntervalMs = options.gateIntervalMs;
  await killOrphans(layout.root);
  removeUnpackLeftovers(layout.versions);
  const { begun, done } = stepsOf(tx);

  if (data.to.version && (begun.has('commit') || done.has('health-gate'))) {
    const toDir = layout.versionDir(data.to.version);
    setCurrent(layout, toDir);
    const gate = await startAndGate(ctx, data.to.version, toDir);
    if (gate.ok) {
      await commit(ctx, options.keepVersions);
      return { service, action: 'committed', txId: tx.txId, version: data.to.version, healthy: true };
    }
    await supervisor.stop();
    begun.add('start-new');
    const cause = { cause: gate.reason, check: gate.check === true, when: 'after the agent restarted' };
    return rollBack(ctx, begun, cause);
  }
  const last = [...tx.records].reverse().find((r) => r.phase === 'begin')?.step ?? 'transaction';
  // The version is not at fault when the agent stopped: it stays eligible, so the next pass retries it.
  return rollBack(ctx, begun, { cause: `the agent stopped during ${last}` }, false);
}

async function rollBack(
  ctx: TxContext,
  begun: Set<string>,
  cause: Pick<FailureFacts, 'cause' | 'check' | 'when'>,
  versionAtFault = true,
): Promise<RecoveryResult> {
  let gate = await undoSteps(ctx, begun);
  // The old version was killed with the crashed agent's leftovers; bring it back under this supervisor.
  if (!gate && ctx.from) {
    const from = ctx.from;
    setCurrent(ctx.layout, from.dir);
    gate = await startAndGate(ctx, from.version, from.dir);
  }
  const healthy = gate?.ok ?? ctx.from === null;
  const reason = cause.check ? `health check failed: ${cause.cause}` : cause.cause;
  const summary = describeFailure({
    service: ctx.service,
    from: ctx.from?.version ?? null,
    to: ctx.toVersion,
    ...cause,
    // Recovery ends the old version's processes with the crashed agent's leftovers, so it always restarts it.
    oldRestarted: true,
    oldGate: gate,
  });
  if (ctx.toVersion && versionAtFault) recordFailedVersion(ctx.layout, ctx.toVersion, reason, summary);
  ctx.journal.append({
    txId: ctx.txId,
    step: 'rolled-back',
    phase: 'done',
    data: { reason, summary, output: ctx.supervisor.tail(50) },
  });
  return {
    service: ctx.service,
    action: 'rolled-back',
    txId: ctx.txId,
    version: ctx.from?.version ?? null,
    healthy,
    reason,
    summary,
  };
}

/** Recovers every service under `services/` that has an open transaction, one after another. */
export async function recoverAll(options: {
  layout: AgentLayout;
  supervisorFor: (service: string) => ServiceSupervisor;
  gateIntervalMs?: number;
  /** Services recovered by someone else (the agent's own service, by its launcher). */
  exclude?: string[];
}): Promise<RecoveryResult[]> {
  let names: string[] = [];
  try {
    names = readdirSync(options.layout.services).filter((n) => !options.exclude?.includes(n));
  } catch {}
  const results: RecoveryResult[] = [];
  for (const service of names) {
    const rec: Parameters<typeof recoverService>[0] = {
      layout: options.layout,
      service,
      supervisor: options.supervisorFor(service),
    };
    if (options.gateIntervalMs !== undefined) rec.gateIntervalMs = options.gateIntervalMs;
    const r = await recoverService(rec);
    if (r.action !== 'none') results.push(r);
  }
  return results;
}
