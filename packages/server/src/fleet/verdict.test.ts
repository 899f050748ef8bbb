import { describe, expect, it } from 'vitest';
import type { ServiceReportRow } from '../desired/instances-store.ts';
import type { RecentFaults } from '../faults/store.ts';
import { faultCause, type VerdictInput, verdictOf } from './verdict.ts';

const report = (r: Partial<ServiceReportRow> = {}): ServiceReportRow => ({
  service: 'web',
  version: '1.2.0',
  targetVersion: null,
  state: 'running',
  updateError: null,
  installedAt: null,
  startedAt: null,
  failureCount: 0,
  lastExitCode: null,
  ...r,
});
const input = (i: Partial<VerdictInput> = {}): VerdictInput => ({
  service: 'web',
  stale: false,
  report: report(),
  desired: '1.2.0',
  environmentDesired: '1.2.0',
  servedOlder: false,
  ...i,
});
const fault: RecentFaults['newest'] = {
  id: 'f-9',
  time: 0,
  version: '1.2.0',
  reason: 'exit',
  exitCode: 4,
  signal: null,
};
const faults = (count: number, newest: Partial<typeof fault> = {}) => ({ count, newest: { ...fault, ...newest } });
/** Served the older 1.1.0 while the environment wants 1.2.0: its rollout wave has not started. */
const waiting = (r: Partial<ServiceReportRow> = {}) =>
  input({ desired: '1.1.0', servedOlder: true, report: report({ version: '1.1.0', ...r }) });

describe('fleet verdicts', () => {
  it('names the first break in the path, with a reason for every alert', () => {
    expect(verdictOf(input())).toEqual({ verdict: 'ok', reason: null });
    expect(verdictOf(input({ stale: true, report: undefined }))).toEqual({
      verdict: 'stale',
      reason: 'the agent stopped reporting',
    });
    expect(verdictOf(input({ report: undefined }))).toEqual({
      verdict: 'not-reported',
      reason: 'the agent has never reported web',
    });
    expect(
      verdictOf(
        input({
          report: report({ version: '1.1.0', targetVersion: '1.2.0', updateError: 'not healthy: exit code 3' }),
        }),
      ),
    ).toEqual({ verdict: 'failed', reason: 'update to 1.2.0 failed (runs 1.1.0): not healthy: exit code 3' });
    expect(verdictOf(input({ report: report({ version: null, updateError: 'digest mismatch' }) })).reason).toBe(
      'install of web 1.2.0 failed: digest mismatch',
    );
    expect(verdictOf(input({ report: report({ state: 'failed', lastExitCode: 139, failureCount: 1 }) }))).toEqual({
      verdict: 'failed',
      reason: 'web 1.2.0 failed: exited with code 139 (1 failure)',
    });
    // An old error once the desired version runs is history, not a failure.
    expect(verdictOf(input({ report: report({ updateError: 'old' }) })).verdict).toBe('ok');
    expect(
      verdictOf(input({ report: report({ version: '1.1.0', targetVersion: '1.2.0', state: 'updating' }) })),
    ).toEqual({
      verdict: 'updating',
      reason: 'updating from 1.1.0 to 1.2.0',
    });
    expect(verdictOf(input({ report: report({ state: 'stopped' }) }))).toEqual({
      verdict: 'stopped',
      reason: 'web 1.2.0 is stopped',
    });
    expect(verdictOf(waiting())).toEqual({
      verdict: 'not-desired-yet',
      reason: 'it is served 1.1.0 until its wave starts; the environment wants 1.2.0',
    });
    expect(verdictOf(input({ report: report({ version: '1.0.0' }) }))).toEqual({
      verdict: 'behind',
      reason: 'runs 1.0.0 while 1.2.0 is desired, and no update is under way',
    });
  });

  it('says what happened once: the agent names the update and its outcome itself', () => {
    const rolledBack = 'update to 1.2.0 failed: exited with code 3 during the startup window; rolled back to 1.1.0';
    expect(verdictOf(input({ report: report({ version: '1.1.0', updateError: rolledBack }) }))).toEqual({
      verdict: 'failed',
      reason: rolledBack,
    });
    const firstInstall = 'install of web 1.2.0 failed: exited with code 1 during the startup window';
    expect(verdictOf(input({ report: report({ version: null, updateError: firstInstall }) })).reason).toBe(
      firstInstall,
    );
    // Older agents' wording is passed on as it is, not wrapped in a second "update to".
    const older = 'update to 1.2.0 rolled back: 1.2.0 is not healthy: health probe failed';
    expect(verdictOf(input({ report: report({ version: '1.1.0', updateError: older }) })).reason).toBe(older);
    const prefixed = 'web: update to 1.2.0 rolled back: exited with code 3';
    expect(verdictOf(input({ report: report({ version: '1.1.0', updateError: prefixed }) })).reason).toBe(prefixed);
    // A failure of the desired version names the process's error, not an update.
    expect(
      verdictOf(
        input({
          report: report({ state: 'failed', updateError: 'exited with code 4', lastExitCode: 4, failureCount: 2 }),
        }),
      ).reason,
    ).toBe('web 1.2.0 failed: exited with code 4 (2 failures)');
  });

  it('calls repeated faults a crash loop whatever the version, with the newest fault as the cause', () => {
    // The desired version runs between two crashes: 8 faults in the window are no `ok`.
    expect(verdictOf(input({ report: report({ failureCount: 8 }), faults: faults(8) }))).toEqual({
      verdict: 'crash-looping',
      reason: 'web 1.2.0 crashed 8 times in the last 10 minutes; last: exited with code 4',
    });
    expect(verdictOf(input({ faults: faults(3) })).verdict).toBe('crash-looping');
    expect(verdictOf(input({ faults: faults(2) })).verdict).toBe('ok');
    // A version behind, and one waiting for its wave, crash-loop all the same.
    expect(verdictOf(input({ report: report({ version: '1.0.0' }), faults: faults(5, { version: '1.0.0' }) }))).toEqual(
      {
        verdict: 'crash-looping',
        reason: 'web 1.0.0 crashed 5 times in the last 10 minutes; last: exited with code 4',
      },
    );
    expect(verdictOf({ ...waiting(), faults: faults(3, { signal: 'SIGSEGV', exitCode: null }) }).reason).toBe(
      'web 1.2.0 crashed 3 times in the last 10 minutes; last: killed by signal SIGSEGV',
    );
    // The agent's own count: held failed after 3 failures is a loop even when no fault was uploaded.
    expect(
      verdictOf(input({ report: report({ state: 'failed', failureCount: 3, updateError: 'exited with code 4' }) })),
    ).toEqual({ verdict: 'crash-looping', reason: 'web 1.2.0 keeps failing (3 failures); last: exited with code 4' });
    expect(verdictOf(input({ report: report({ state: 'failed', failureCount: 3, lastExitCode: 2 }) })).reason).toBe(
      'web 1.2.0 keeps failing (3 failures); last: exited with code 2',
    );
    // Running again after failures long ago (no recent fault) is not a loop.
    expect(verdictOf(input({ report: report({ failureCount: 12 }) })).verdict).toBe('ok');
    // A refused update is `failed`, however often the agent counted.
    const refused = 'update to 1.2.0 failed: exited with code 3 during the startup window; rolled back to 1.1.0';
    expect(
      verdictOf(input({ report: report({ version: '1.1.0', state: 'failed', failureCount: 5, updateError: refused }) }))
        .verdict,
    ).toBe('failed');
  });

  it('names each fault cause', () => {
    expect(faultCause({ ...fault, reason: 'memory' })).toBe('restarted over its memory limit');
    expect(faultCause({ ...fault, reason: 'cpu' })).toBe('restarted over its CPU limit');
    expect(faultCause({ ...fault, reason: 'spawn' })).toBe('could not be started');
    expect(faultCause({ ...fault, exitCode: null })).toBe('exit');
  });

  it('applies the order: stale, not-reported, crash-looping, failed, updating, stopped, behind, not-desired-yet', () => {
    const looping = faults(9);
    expect(verdictOf(input({ stale: true, faults: looping })).verdict).toBe('stale');
    expect(verdictOf(input({ report: undefined, faults: looping })).verdict).toBe('not-reported');
    const failing = report({ state: 'failed', version: '1.0.0', targetVersion: '1.2.0' });
    expect(verdictOf(input({ report: failing, faults: looping })).verdict).toBe('crash-looping');
    expect(verdictOf(input({ report: failing })).verdict).toBe('failed');
    const updatingStopped = report({ state: 'stopped', version: '1.0.0', targetVersion: '1.2.0' });
    expect(verdictOf(input({ report: updatingStopped })).verdict).toBe('updating');
    expect(verdictOf(input({ report: report({ state: 'stopped', version: '1.0.0' }) })).verdict).toBe('stopped');
    expect(verdictOf(waiting({ state: 'stopped' })).verdict).toBe('stopped');
    // What it runs against what it is served comes first: a wave that has not started explains nothing.
    expect(verdictOf(waiting({ version: '1.0.0' }))).toEqual({
      verdict: 'behind',
      reason: 'runs 1.0.0 while 1.1.0 is desired, and no update is under way',
    });
    expect(verdictOf(waiting({ version: '1.0.0', targetVersion: '1.1.0', state: 'updating' })).verdict).toBe(
      'updating',
    );
    expect(verdictOf(waiting({ version: '1.0.0', updateError: 'update to 1.1.0 failed: no space left' })).verdict).toBe(
      'failed',
    );
    // Served the environment's version through an older revision: nothing is held back.
    expect(verdictOf(input({ servedOlder: true })).verdict).toBe('ok');
  });
});
