import { describe, expect, it } from 'vitest';
import {
  countOutcomes,
  evaluate,
  judgeInstance,
  type Observation,
  type RolloutPolicy,
  type RolloutPosition,
  silentAfterMs,
} from './evaluate.ts';

const now = Date.parse('2030-01-01T12:00:00Z');
const policy: RolloutPolicy = {
  successThreshold: 0.95,
  errorThreshold: 0.1,
  onError: 'pause',
  requireApproval: false,
  minWaveSeconds: 0,
};
const pos: RolloutPosition = { state: 'running', currentWave: 0, waveCount: 2, waveStartedAt: now - 1000 };
const counts = (instances: number, succeeded: number, failed: number) => ({
  instances,
  succeeded,
  failed,
  pending: instances - succeeded - failed,
});

describe('judgeInstance', () => {
  const change = { versions: { web: '2.0', api: '1.1' }, removed: ['old'] };
  const seen = new Date(now - 1000).toISOString();
  const svc = (service: string, version: string | null, extra: Partial<Observation['services'][0]> = {}) => ({
    service,
    version,
    targetVersion: null,
    state: 'running',
    updateError: null,
    ...extra,
  });

  it('succeeds when every target version runs and removed services are gone', () => {
    expect(judgeInstance({ lastSeenAt: seen, services: [svc('web', '2.0'), svc('api', '1.1')] }, change, now)).toBe(
      'succeeded',
    );
    expect(
      judgeInstance(
        { lastSeenAt: seen, services: [svc('web', '2.0'), svc('api', '1.1'), svc('old', '1', { state: 'stopped' })] },
        change,
        now,
      ),
    ).toBe('succeeded');
  });

  it('is pending while a service is missing, old, updating, or a removed one still runs', () => {
    expect(judgeInstance({ lastSeenAt: seen, services: [svc('web', '2.0')] }, change, now)).toBe('pending');
    expect(judgeInstance({ lastSeenAt: seen, services: [svc('web', '1.0'), svc('api', '1.1')] }, change, now)).toBe(
      'pending',
    );
    expect(
      judgeInstance(
        {
          lastSeenAt: seen,
          services: [svc('web', '1.0', { targetVersion: '2.0', state: 'updating' }), svc('api', '1.1')],
        },
        change,
        now,
      ),
    ).toBe('pending');
    expect(
      judgeInstance(
        { lastSeenAt: seen, services: [svc('web', '2.0'), svc('api', '1.1'), svc('old', '1')] },
        change,
        now,
      ),
    ).toBe('pending');
  });

  it('fails on an update error or a failed state for a target version', () => {
    expect(
      judgeInstance(
        { lastSeenAt: seen, services: [svc('web', '1.0', { targetVersion: '2.0', updateError: 'exit 3' })] },
        change,
        now,
      ),
    ).toBe('failed');
    expect(judgeInstance({ lastSeenAt: seen, services: [svc('web', '2.0', { state: 'failed' })] }, change, now)).toBe(
      'failed',
    );
    // A failure of an unrelated version is not this rollout's failure.
    expect(judgeInstance({ lastSeenAt: seen, services: [svc('web', '1.0', { state: 'failed' })] }, change, now)).toBe(
      'pending',
    );
  });

  it('ignores instances silent for five minutes', () => {
    const old = new Date(now - silentAfterMs - 1).toISOString();
    expect(judgeInstance({ lastSeenAt: old, services: [svc('web', '2.0'), svc('api', '1.1')] }, change, now)).toBe(
      'ignored',
    );
    expect(countOutcomes(['ignored', 'succeeded', 'failed', 'pending'])).toEqual(counts(3, 1, 1));
  });
});

describe('evaluate', () => {
  it('stays running while too few have succeeded', () => {
    expect(evaluate(pos, policy, counts(20, 18, 0), now)).toBeUndefined();
  });

  it('moves to the next wave at the success threshold exactly', () => {
    expect(evaluate(pos, policy, counts(20, 19, 0), now)).toMatchObject({ state: 'running', currentWave: 1 });
    expect(evaluate(pos, { ...policy, successThreshold: 1 }, counts(20, 19, 0), now)).toBeUndefined();
  });

  it('pauses at the error threshold exactly, and not below it', () => {
    expect(evaluate(pos, policy, counts(20, 0, 2), now)).toMatchObject({ state: 'paused', currentWave: 0 });
    expect(evaluate(pos, policy, counts(20, 0, 1), now)).toBeUndefined();
    expect(evaluate(pos, policy, counts(20, 18, 1), now)).toBeUndefined();
  });

  it('aborts instead when onError is abort', () => {
    expect(evaluate(pos, { ...policy, onError: 'abort' }, counts(10, 5, 5), now)).toMatchObject({ state: 'aborted' });
  });

  it('checks failures before successes', () => {
    expect(evaluate(pos, { ...policy, successThreshold: 0.5 }, counts(10, 8, 2), now)).toMatchObject({
      state: 'paused',
    });
  });

  it('counts an empty wave as succeeded', () => {
    expect(evaluate(pos, policy, counts(0, 0, 0), now)).toMatchObject({ state: 'running', currentWave: 1 });
  });

  it('waits for the minimum wave duration', () => {
    const slow = { ...policy, minWaveSeconds: 60 };
    expect(evaluate({ ...pos, waveStartedAt: now - 59_999 }, slow, counts(4, 4, 0), now)).toBeUndefined();
    expect(evaluate({ ...pos, waveStartedAt: now - 60_000 }, slow, counts(4, 4, 0), now)).toMatchObject({
      currentWave: 1,
    });
    // Failures do not wait.
    expect(evaluate({ ...pos, waveStartedAt: now }, slow, counts(4, 0, 4), now)).toMatchObject({ state: 'paused' });
  });

  it('waits for approval between waves when required, but not after the last', () => {
    const gated = { ...policy, requireApproval: true };
    expect(evaluate(pos, gated, counts(4, 4, 0), now)).toMatchObject({ state: 'waiting_approval', currentWave: 0 });
    expect(evaluate({ ...pos, currentWave: 1 }, gated, counts(4, 4, 0), now)).toMatchObject({ state: 'completed' });
  });

  it('completes after the last wave', () => {
    expect(evaluate({ ...pos, currentWave: 1 }, policy, counts(10, 10, 0), now)).toMatchObject({
      state: 'completed',
      currentWave: 1,
    });
  });

  it.each(['paused', 'waiting_approval', 'completed', 'aborted'] as const)('leaves a %s rollout alone', (state) => {
    expect(evaluate({ ...pos, state }, policy, counts(10, 10, 0), now)).toBeUndefined();
  });
});
