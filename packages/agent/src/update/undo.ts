// Context shared by the update transaction and crash recovery, and the idempotent undo of each step.
import { rmSync } from 'node:fs';
import type { InstallManifest } from '@flotilla/protocol';
import type { Journal, Phase } from '../journal/journal.ts';
import type { ServiceLayout } from '../layout.ts';
import type { RestartPolicy, ServiceSupervisor } from '../supervisor/types.ts';
import { type Macros, runSpecOf } from './commands.ts';
import { type GateResult, healthGate } from './health.ts';
import { loadManifest, removeManifest, setCurrent } from './state.ts';
import { removeUnpackLeftovers } from './unpack.ts';

export const updateSteps = [
  'download',
  'verify',
  'unpack',
  'install',
  'stop-old',
  'switch',
  'post-install',
  'start-new',
  'health-gate',
  'commit',
] as const;
export type UpdateStep = (typeof updateSteps)[number];

export interface UpdateHooks {
  /** Called right after a record is journaled and fsynced (tests use it to crash at a precise point). */
  afterJournal?(step: string, phase: Phase): void;
}

export interface TxContext {
  txId: string;
  service: string;
  role: string;
  layout: ServiceLayout;
  downloadFile: string;
  from: { version: string; dir: string } | null;
  toVersion: string;
  supervisor: ServiceSupervisor;
  journal: Journal;
  hooks: UpdateHooks;
  gateIntervalMs?: number;
  /** Keep `<download>.part` on undo, so the next attempt resumes (the server was unreachable). */
  keepPartialDownload?: boolean;
}

/** Journals `begin`, runs `fn`, journals `done`. */
export async function journaled<T>(ctx: TxContext, step: string, fn: () => Promise<T> | T, data?: unknown): Promise<T> {
  ctx.journal.append({ txId: ctx.txId, step, phase: 'begin', data });
  ctx.hooks.afterJournal?.(step, 'begin');
  const result = await fn();
  ctx.journal.append({ txId: ctx.txId, step, phase: 'done' });
  ctx.hooks.afterJournal?.(step, 'done');
  return result;
}

export function policyOf(manifest: InstallManifest): Partial<RestartPolicy> {
  const r = manifest.restart ?? {};
  const policy: Partial<RestartPolicy> = { onFault: r.onFault ?? true };
  if (r.maxMemoryMB !== undefined) policy.maxMemoryMB = r.maxMemoryMB;
  if (r.maxCpu) policy.maxCpu = r.maxCpu;
  if (r.makeCore !== undefined) policy.makeCore = r.makeCore;
  if (r.checkTimeoutMs !== undefined) policy.checkIntervalMs = r.checkTimeoutMs;
  return policy;
}

/** Starts `version` from `dir` under the supervisor; returns the health gate to hold it to. */
export function startVersion(ctx: TxContext, version: string, dir: string): () => Promise<GateResult> {
  const manifest = loadManifest(ctx.layout, version, dir);
  const macros: Macros = { version, role: ctx.role };
  const spec = runSpecOf(manifest, dir, macros, ctx.layout.root);
  if (!spec) return async () => ({ ok: true, reason: 'library-only service' });
  ctx.supervisor.start(spec, policyOf(manifest));
  const gate: Parameters<typeof healthGate>[0] = { supervisor: ctx.supervisor, manifest, versionDir: dir, macros };
  if (ctx.gateIntervalMs !== undefined) gate.intervalMs = ctx.gateIntervalMs;
  return () => healthGate(gate);
}

export function startAndGate(ctx: TxContext, version: string, dir: string): Promise<GateResult> {
  return startVersion(ctx, version, dir)();
}

/**
 * Undoes, in reverse order, every step in `begun` (a begun step may have half happened, so each undo is
 * idempotent), journaling `undo:<step>`. Returns the old version's gate result when it was restarted.
 */
export async function undoSteps(ctx: TxContext, begun: Set<string>): Promise<GateResult | null> {
  let oldGate: GateResult | null = null;
  const toDir = ctx.layout.versionDir(ctx.toVersion);
  for (const step of [...updateSteps].reverse()) {
    if (!begun.has(step)) continue;
    switch (step) {
      case 'start-new':
        await journaled(ctx, 'undo:start-new', () => ctx.supervisor.stop());
        break;
      case 'switch':
        await journaled(ctx, 'undo:switch', () => setCurrent(ctx.layout, ctx.from ? ctx.from.dir : null));
        break;
      case 'stop-old':
        if (ctx.from) {
          const from = ctx.from;
          oldGate = await journaled(ctx, 'undo:stop-old', () => startAndGate(ctx, from.version, from.dir));
        }
        break;
      case 'unpack':
        if (ctx.from?.version !== ctx.toVersion) {
          await journaled(ctx, 'undo:unpack', () => {
            rmSync(toDir, { recursive: true, force: true });
            removeUnpackLeftovers(ctx.layout.versions);
          });
        }
        break;
      case 'verify':
        if (ctx.from?.version !== ctx.toVersion)
          await journaled(ctx, 'undo:verify', () => removeManifest(ctx.layout, ctx.toVersion));
        break;
      case 'download':
        await journaled(ctx, 'undo:download', () => {
          rmSync(ctx.downloadFile, { force: true });
          if (!ctx.keepPartialDownload) rmSync(`${ctx.downloadFile}.part`, { force: true });
        });
        break;
      default:
        break;
    }
  }
  return oldGate;
}
