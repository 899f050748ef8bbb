// One sentence for a failed install or update: what failed, why, and what runs now, said once.
import type { GateResult } from './health.ts';

/** The health gate did not pass; `gate.check` tells a failed health check from a process that died. */
export class GateFailed extends Error {
  override name = 'GateFailed';
  readonly gate: GateResult;
  constructor(gate: GateResult) {
    super(gate.check ? `health check failed: ${gate.reason}` : gate.reason);
    this.gate = gate;
  }
}

export interface FailureFacts {
  service: string;
  /** The version that ran before, or null for a first install. */
  from: string | null;
  to: string;
  /** The cause, in words (`exited with code 3 during the startup window`). */
  cause: string;
  /** The cause is a failed health check (the process ran): worded "failed its health check (…)". */
  check?: boolean;
  /** Whether the old version had been stopped (and so was started again). */
  oldRestarted?: boolean;
  /** The restarted old version's own gate, when it failed too. */
  oldGate?: GateResult | null;
  /** Said after the cause, e.g. `after the agent restarted`. */
  when?: string;
}

/**
 * `install of web 3.0.0 failed: exited with code 1 during the startup window`, or
 * `update to 1.1.0 failed its health check (GET … answered 500); rolled back to 1.0.0`.
 */
export function describeFailure(f: FailureFacts): string {
  const subject = f.from === null ? `install of ${f.service} ${f.to}` : `update to ${f.to}`;
  const when = f.when ? ` ${f.when}` : '';
  const failed = f.check ? `failed its health check${when} (${f.cause})` : `failed${when}: ${f.cause}`;
  if (f.from === null) return `${subject} ${failed}`;
  const old = !f.oldRestarted
    ? `${f.from} kept running`
    : f.oldGate && !f.oldGate.ok
      ? `rolled back to ${f.from}, which is not healthy either: ${f.oldGate.reason}`
      : `rolled back to ${f.from}`;
  return `${subject} ${failed}; ${old}`;
}
