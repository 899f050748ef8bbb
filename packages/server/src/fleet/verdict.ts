import type { FleetVerdict } from '@flotilla/protocol';
import type { ServiceReportRow } from '../desired/instances-store.ts';

export interface VerdictInput {
  service: string;
  stale: boolean;
  lastSeenAt: string;
  /** What the instance reported for the service; undefined when it never did. */
  report: ServiceReportRow | undefined;
  /** The version this instance is served (its rollout wave's revision); null when that revision lacks the service. */
  desired: string | null;
  /** The version the environment's current revision names. */
  environmentDesired: string;
  /** The instance is served an older revision than the environment's current one. */
  servedOlder: boolean;
}

const named = (version: string | null) => version ?? 'nothing';

/** Agents name the update and its outcome themselves (`install of …`, `update to …`). */
const toldInFull = /^(install of|update to) /;

/** Why the service failed, said once: the agent's own sentence, or one built around its bare error. */
function failureReason(i: VerdictInput, r: ServiceReportRow): string {
  const error = r.updateError;
  if (error === null || r.version === i.desired) {
    // The version is installed (or nothing was tried) and its process fails.
    const cause = error ?? (r.lastExitCode === null ? null : `exit code ${r.lastExitCode}`);
    const count = r.failureCount > 0 ? ` (${r.failureCount} failures)` : '';
    return `${i.service} ${named(r.version)} failed${cause === null ? '' : `: ${cause}`}${count}`;
  }
  if (toldInFull.test(error)) return error;
  const to = named(r.targetVersion ?? i.desired);
  return r.version === null
    ? `install of ${i.service} ${to} failed: ${error}`
    : `update to ${to} failed (runs ${r.version}): ${error}`;
}

/** Where the path from desired version to running service breaks for one instance; the first break wins. */
export function verdictOf(i: VerdictInput): { verdict: FleetVerdict; reason: string | null } {
  const r = i.report;
  if (i.stale) return { verdict: 'stale', reason: `the agent has not reported since ${i.lastSeenAt}` };
  if (!r) return { verdict: 'not-reported', reason: `the agent has never reported ${i.service}` };
  if (r.state === 'failed' || (r.updateError !== null && r.version !== i.desired)) {
    return { verdict: 'failed', reason: failureReason(i, r) };
  }
  if (r.targetVersion !== null && r.targetVersion === i.desired && r.version !== i.desired) {
    return { verdict: 'updating', reason: `updating from ${named(r.version)} to ${r.targetVersion}` };
  }
  if (r.state === 'stopped') return { verdict: 'stopped', reason: `${i.service} ${named(r.version)} is stopped` };
  if (i.servedOlder && i.desired !== i.environmentDesired) {
    return {
      verdict: 'not-desired-yet',
      reason: `the rollout has not reached this instance: it is served ${named(i.desired)} until its wave starts, the environment wants ${i.environmentDesired}`,
    };
  }
  if (r.version !== i.desired) {
    return {
      verdict: 'behind',
      reason: `runs ${named(r.version)} while ${named(i.desired)} is desired, and no update is under way`,
    };
  }
  return { verdict: 'ok', reason: null };
}
