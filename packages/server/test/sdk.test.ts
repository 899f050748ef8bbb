import type { UsageResponse } from '@flotilla/protocol';
import type { UpgradeCheckResult } from '@flotilla/sdk';
import { checkForUpgrade, startUpgradeChecker, UpgradeCheckError } from '@flotilla/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, startTestServer, type TestServer, writeTemp } from './support/server.ts';
import { makeTempDir } from './support/temp-dir.ts';

const responseConfig = {
  versions: [
    { name: 'v1.0.0', releaseDate: '2026-01-01T00:00:00Z', tags: ['stable'] },
    { name: 'v1.1.0', releaseDate: '2026-02-01T00:00:00Z', tags: ['stable'] },
    { name: 'v2.0.0', releaseDate: '2026-03-01T00:00:00Z', minUpgradableVersion: 'v1.1.0', tags: ['latest'] },
  ],
};

describe.each(['camel', 'pascal'] as const)('the SDK against a real server answering %sCase', (casing) => {
  let server: TestServer;
  beforeAll(async () => {
    const dir = makeTempDir('flotilla-sdk-');
    server = await startTestServer(
      'sqlite',
      { upgradeResponseConfig: writeTemp(dir, 'r.json', responseConfig), responseCasing: casing, rateLimit: '0' },
      { dir },
    );
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('finds the newest reachable version and honours minUpgradableVersion', async () => {
    const fresh = await checkForUpgrade({ url: server.url, appVersion: 'v1.1.0' });
    expect(fresh.upgradeAvailable).toBe(true);
    expect(fresh.latest?.name).toBe('v2.0.0');
    expect(fresh.requestIntervalInMinutes).toBe(60);
    expect(fresh.versions.map((v) => v.name)).toEqual(['v2.0.0', 'v1.1.0', 'v1.0.0']);
    const old = await checkForUpgrade({ url: server.url, appVersion: 'v1.0.0' });
    expect(old.upgradeAvailable).toBe(false);
    expect(old.blockedBy?.name).toBe('v2.0.0');
    const stable = await checkForUpgrade({ url: server.url, appVersion: 'v1.0.0', tag: 'stable' });
    expect(stable.latest?.name).toBe('v1.1.0');
    const current = await checkForUpgrade({ url: server.url, appVersion: 'v2.0.0' });
    expect(current.upgradeAvailable).toBe(false);
  });

  it('is counted as one unique instance however often it checks in a period', async () => {
    for (let i = 0; i < 3; i++)
      await checkForUpgrade({ url: server.url, appVersion: 'v9.9.9', instanceId: 'sdk-instance-1' });
    await checkForUpgrade({ url: server.url, appVersion: 'v9.9.9', instanceId: 'sdk-instance-2' });
    const res = await fetch(`${server.url}/api/v1/apps/default/usage?groupBy=appVersion`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    const usage = (await res.json()) as UsageResponse;
    const last = usage.series.find((s) => s.key === 'v9.9.9')?.points.at(-1);
    expect(last).toMatchObject({ checkins: 4, uniqueInstances: 2 });
  });

  it('runs a periodic checker that reports to onResult and stops cleanly', async () => {
    const results: UpgradeCheckResult[] = [];
    const checker = startUpgradeChecker({
      url: server.url,
      appVersion: 'v1.1.0',
      initialDelayMs: 0,
      onResult: (r) => results.push(r),
    });
    await expect.poll(() => results.length, { timeout: 5000 }).toBeGreaterThan(0);
    checker.stop();
    expect(results[0]?.latest?.name).toBe('v2.0.0');
  });

  it('surfaces a server error as an UpgradeCheckError with the status', async () => {
    const err = await checkForUpgrade({ url: `${server.url}/v1/apps/missing/checkupgrade`, appVersion: 'v1' }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(UpgradeCheckError);
    expect((err as UpgradeCheckError).status).toBe(404);
  });
});
