import type { FleetVerdict } from '@flotilla/protocol';
import type { ServiceReportRow } from '../desired/instances-store.ts';
import type { RecentFaults } from '../faults/store.ts';

/** A service with this many faults within the window is crash-looping, whatever version it runs. */
export const crashLoopFaults = 3;
export const crashLoopWindowMs = 10 * 60_000;
/** A failed update is told by the `failed` verdict; its rollback fault is not a restart. */
export const faultsNotRestarts = ['update-rolled-back'];

/** Verdicts that are not alerts: `alerts=true` and the dashboard's "Only alerts" leave them out. */
export const calmVerdicts: readonly FleetVerdict[] = ['ok', 'not-desired-yet'];

export interface VerdictInput {
  service: string;
  stale: boolean;
  /** What the instance reported for the service; undefined when it never did. */
  report: ServiceReportRow | undefined;
  /** The version this instance is served (its rollout wave's revision); null when that revision lacks the service. */
  desired: string | null;
  /** The version the environment's current revision names. */
  environmentDesired: string;
  /** The instance is served an older revision than the environment's current one. */
  servedOlder: boolean;
  /** This service's faults on this instance within the crash-loop window; undefined when none. */
  faults?: Pick<RecentFaults, 'count' | 'newest'>;
}

const named = (version: string | null) => version ?? 'nothing';

/** Agents name the update and its outcome themselves (`install of …`, `update to …`). */
const toldInFull = /\b(install of|update to) /;

/** What a fault report says happened, in words. */
export function faultCause(f: RecentFaults['newest']): string {
  if (f.reason === 'memory') return 'restarted over its memory limit';
  if (f.reason === 'cpu') return 'restarted over its CPU limit';
  if (f.reason === 'spawn') return 'could not be started';
  if (f.signal !== null) return `killed by signal ${f.signal}`;
  if (f.exitCode !== null) return `exited with code ${f.exitCode}`;
  return f.reason;
}

/** Why the service failed, said once: the agent's own sentence, or one built around its bare error. */
function failureReason(i: VerdictInput, r: ServiceReportRow): string {
  const error = r.updateError;
  if (error === null || r.version === i.desired) {
    // The version is installed (or nothing was tried) and its process fails.
    const cause = error ?? (r.lastExitCode === null ? null : `exited with code ${r.lastExitCode}`);
    const count = r.failureCount > 0 ? ` (${r.failureCount} failure${r.failureCount === 1 ? '' : 's'})` : '';
    return `${i.service} ${named(r.version)} failed${cause === null ? '' : `: ${cause}`}${count}`;
  }
  if (toldInFull.test(error)) return error;
  const to = named(r.targetVersion ?? i.desired);
  return r.version === null
    ? `install of ${i.service} ${to} failed: ${error}`
    : `update to ${to} failed (runs ${r.version}): ${error}`;
}

/** Repeated faults, or the agent holding the process failed after repeated failures; null when neither. */
function crashLoopReason(i: VerdictInput, r: ServiceReportRow): string | null {
  const f = i.faults;
  if (f && f.count >= crashLoopFaults) {
    const minutes = crashLoopWindowMs / 60_000;
    return `${i.service} ${named(f.newest.version ?? r.version)} crashed ${f.count} times in the last ${minutes} minutes; last: ${faultCause(f.newest)}`;
  }
  const ownProcess = r.updateError === null || !toldInFull.test(r.updateError);
  if (r.state === 'failed' && r.failureCount >= crashLoopFaults && ownProcess) {
    const cause = r.updateError ?? (r.lastExitCode === null ? 'no exit status' : `exited with code ${r.lastExitCode}`);
    return `${i.service} ${named(r.version)} keeps failing (${r.failureCount} failures); last: ${cause}`;
  }
  return null;
}

/** Where the path from desired version to running service breaks for one instance; the first break wins. */
export function verdictOf(i: VerdictInput): { verdict: FleetVerdict; reason: string | null } {
  const r = i.report;
  if (i.stale) return { verdict: 'stale', reason: 'the agent stopped reporting' };
  if (!r) return { verdict: 'not-reported', reason: `the agent has never reported ${i.service}` };
  const looping = crashLoopReason(i, r);
  if (looping !== null) return { verdict: 'crash-looping', reason: looping };
  if (r.state === 'failed' || (r.updateError !== null && r.version !== i.desired)) {
    return { verdict: 'failed', reason: failureReason(i, r) };
  }
  if (r.targetVersion !== null && r.targetVersion === i.desired && r.version !== i.desired) {
    return { verdict: 'updating', reason: `updating from ${named(r.version)} to ${r.targetVersion}` };
  }
  if (r.state === 'stopped') return { verdict: 'stopped', reason: `${i.service} ${named(r.version)} is stopped` };
  // What it runs against what it is served comes before any rollout: a wave cannot explain a mismatch.
  if (r.version !== i.desired) {
    return {
      verdict: 'behind',
      reason: `runs ${named(r.version)} while ${named(i.desired)} is desired, and no update is under way`,
    };
  }
  if (i.servedOlder && i.desired !== i.environmentDesired) {
    return {
      verdict: 'not-desired-yet',
      reason: `it is served ${named(i.desired)} until its wave starts; the environment wants ${i.environmentDesired}`,
    };
  }
  return { verdict: 'ok', reason: null };
}
