import { describe, expect, it } from 'vitest';
import { UploadQuota } from './upload-quota.ts';

describe('upload quota', () => {
  it('lets a key spend its limit per window, then answers the seconds until the cost fits', () => {
    let clock = 0;
    const quota = new UploadQuota({ bytes: 1000, lines: 10 }, 60_000, { now: () => clock });
    expect(quota.take('a', { bytes: 600, lines: 5 })).toBe(0);
    expect(quota.take('a', { bytes: 400, lines: 5 })).toBe(0);
    // Empty: one line needs 6 s of refill (10 lines a minute), 100 bytes needs 6 s too.
    expect(quota.take('a', { bytes: 100, lines: 1 })).toBe(6);
    // Another key has its own bucket.
    expect(quota.take('b', { bytes: 1000, lines: 10 })).toBe(0);
    clock += 6_000;
    expect(quota.take('a', { bytes: 100, lines: 1 })).toBe(0);
    expect(quota.take('a', { bytes: 1, lines: 0 })).toBeGreaterThanOrEqual(1);
  });

  it('lets an upload larger than a whole window through only on a full bucket, then makes it wait', () => {
    let clock = 0;
    const quota = new UploadQuota({ reports: 2 }, 3_600_000, { now: () => clock });
    expect(quota.take('a', { reports: 5 })).toBe(0);
    expect(quota.take('a', { reports: 1 })).toBe(3 * 1800 + 1800);
    clock += 4 * 1_800_000;
    expect(quota.take('a', { reports: 1 })).toBe(0);
  });

  it('is off with limits of 0', () => {
    const quota = new UploadQuota({ bytes: 0, lines: 0 }, 60_000);
    expect(quota.enabled).toBe(false);
    for (let i = 0; i < 100; i++) expect(quota.take('a', { bytes: 1e9, lines: 1e6 })).toBe(0);
    expect(quota.size).toBe(0);
  });

  it('holds at most maxKeys buckets: full ones are forgotten, then new keys share one', () => {
    let clock = 0;
    const quota = new UploadQuota({ lines: 10 }, 60_000, { maxKeys: 3, now: () => clock });
    for (const key of ['a', 'b', 'c']) expect(quota.take(key, { lines: 10 })).toBe(0);
    // No bucket is full again yet: the newcomers share one bucket and cannot lift the limit.
    expect(quota.take('d', { lines: 10 })).toBe(0);
    expect(quota.take('e', { lines: 1 })).toBeGreaterThan(0);
    expect(quota.size).toBe(4);
    clock += 60_000;
    // All refilled: they are forgotten and the new key gets a bucket of its own.
    expect(quota.take('f', { lines: 10 })).toBe(0);
    expect(quota.size).toBe(1);
  });
});
