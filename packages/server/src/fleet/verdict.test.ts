import { describe, expect, it } from 'vitest';
import type { ServiceReportRow } from '../desired/instances-store.ts';
import { type VerdictInput, verdictOf } from './verdict.ts';

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
  lastSeenAt: '2030-01-01T00:00:00.000Z',
  report: report(),
  desired: '1.2.0',
  environmentDesired: '1.2.0',
  servedOlder: false,
  ...i,
});

describe('fleet verdicts', () => {
  it('names the first break in the path, with a reason for every alert', () => {
    expect(verdictOf(input())).toEqual({ verdict: 'ok', reason: null });
    expect(verdictOf(input({ stale: true, report: undefined }))).toEqual({
      verdict: 'stale',
      reason: 'the agent has not reported since 2030-01-01T00:00:00.000Z',
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
    expect(verdictOf(input({ report: report({ state: 'failed', lastExitCode: 139, failureCount: 4 }) }))).toEqual({
      verdict: 'failed',
      reason: 'web 1.2.0 failed: exit code 139 (4 failures)',
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
    const waiting = verdictOf(input({ desired: '1.1.0', servedOlder: true, report: report({ version: '1.1.0' }) }));
    expect(waiting.verdict).toBe('not-desired-yet');
    expect(waiting.reason).toContain('served 1.1.0 until its wave starts, the environment wants 1.2.0');
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
    // A crash loop of the desired version names the process's error, not an update.
    expect(
      verdictOf(
        input({
          report: report({ state: 'failed', updateError: 'exited with code 4', lastExitCode: 4, failureCount: 2 }),
        }),
      ).reason,
    ).toBe('web 1.2.0 failed: exited with code 4 (2 failures)');
  });

  it('applies the order: stale before failed, failed before updating, stopped before not-desired-yet', () => {
    const failing = report({ state: 'failed', version: '1.0.0', targetVersion: '1.2.0' });
    expect(verdictOf(input({ stale: true, report: failing })).verdict).toBe('stale');
    expect(verdictOf(input({ report: failing })).verdict).toBe('failed');
    const stopped = report({ state: 'stopped', version: '1.1.0' });
    expect(verdictOf(input({ desired: '1.1.0', servedOlder: true, report: stopped })).verdict).toBe('stopped');
    // Served the environment's version through an older revision: nothing is held back.
    expect(verdictOf(input({ servedOlder: true })).verdict).toBe('ok');
  });
});
