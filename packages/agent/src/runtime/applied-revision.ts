// The highest desired revision this agent has acted on, kept in the agent directory: rollbacks are
// new revisions, so revisions only grow, and an older one can only be a replay.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentServiceReport, DesiredStatement } from '@flotilla/protocol';
import { writeFileAtomic } from '../update/state.ts';
import { VerificationError } from '../update/verify.ts';

interface Applied {
  environment: string;
  profile: string | null;
  revision: number;
}

export const appliedRevisionFile = 'desired-revision.json';

export class AppliedRevision {
  readonly file: string;
  #applied: Applied | null = null;
  /** Set when the file is damaged: every list is refused (and the services keep running) until it is removed. */
  #damaged: string | null = null;

  constructor(dir: string) {
    this.file = join(dir, appliedRevisionFile);
    if (!existsSync(this.file)) return;
    this.#applied = parse(this.file);
    // Written atomically, so this is damage, not a torn write; trusting nothing would accept any replay.
    if (!this.#applied) this.#damaged = `${this.file} is damaged; remove it to accept the server's desired list`;
  }

  /** The environment this agent follows, once it has accepted a desired list. */
  get environment(): string | undefined {
    return this.#applied?.environment;
  }

  /**
   * Refuses a statement for another environment or profile than the one this agent follows, or for a
   * revision older than the highest it has acted on; records a newer revision (atomically) before the
   * agent acts on it.
   */
  accept(statement: DesiredStatement): void {
    if (this.#damaged) throw new VerificationError(this.#damaged);
    const known = this.#applied;
    if (known && (known.environment !== statement.environment || known.profile !== statement.profile)) {
      const scope = (a: { environment: string; profile: string | null }) =>
        a.profile === null ? `"${a.environment}"` : `"${a.environment}" (profile "${a.profile}")`;
      throw new VerificationError(
        `the desired list is for ${scope(statement)}, but this agent follows ${scope(known)}; if it was moved on purpose, remove ${this.file}`,
      );
    }
    if (known && statement.revision < known.revision) {
      throw new VerificationError(
        `the desired list is revision ${statement.revision}, older than revision ${known.revision} this agent already applied`,
      );
    }
    if (known?.revision === statement.revision) return;
    const next = { environment: statement.environment, profile: statement.profile, revision: statement.revision };
    writeFileAtomic(this.file, `${JSON.stringify(next)}\n`);
    this.#applied = next;
  }
}

function parse(file: string): Applied | null {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as Applied;
    if (
      typeof value.environment === 'string' &&
      (value.profile === null || typeof value.profile === 'string') &&
      Number.isSafeInteger(value.revision)
    )
      return value;
  } catch {}
  return null;
}

/** A desired list the agent refused: why, and the services it named (only ever shown, never acted on). */
export interface DesiredRefusal {
  reason: string;
  services: unknown[];
}

const safeName = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/**
 * The service reports with a refused list's reason as the update error of each service it names, so
 * the fleet view says why nothing changes; a named service the agent does not run gets a report too.
 */
export function withRefusal(reports: AgentServiceReport[], refusal: DesiredRefusal | null): AgentServiceReport[] {
  if (!refusal) return reports;
  const updateError = `desired list refused: ${refusal.reason}`.slice(0, 1024);
  const named = new Set(refusal.services.filter((s): s is string => typeof s === 'string' && safeName.test(s)));
  const out = reports.map((r) => (named.delete(r.service) ? { ...r, updateError } : r));
  for (const service of [...named].slice(0, Math.max(0, 500 - out.length))) out.push({ service, updateError });
  return out;
}
