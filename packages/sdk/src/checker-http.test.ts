import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startUpgradeChecker, type UpgradeChecker } from './checker.ts';
import type { UpgradeCheckError } from './errors.ts';
import { type FakeResponder, neverAnswer, sendJson, startFakeResponder } from './fake-responder.test.helper.ts';
import type { UpgradeCheckResult } from './types.ts';

let server: FakeResponder | undefined;
let checker: UpgradeChecker | undefined;
afterEach(async () => {
  checker?.stop();
  await server?.close();
  checker = undefined;
  server = undefined;
});

describe('startUpgradeChecker against a real server', () => {
  it('delivers the first result after the initial delay', async () => {
    server = await startFakeResponder((_request, response) =>
      sendJson(response, 200, { versions: [{ Name: 'v1.1.0', Tags: ['latest'] }], requestIntervalInMinutes: 60 }),
    );
    const onResult = vi.fn<(result: UpgradeCheckResult) => void>();
    checker = startUpgradeChecker({ url: server.baseUrl, appVersion: 'v1.0.0', initialDelayMs: 50, onResult });
    await sleep(20);
    expect(server.requests).toHaveLength(0);
    await vi.waitFor(() => expect(onResult).toHaveBeenCalledTimes(1));
    expect(onResult.mock.calls[0]?.[0].latest?.name).toBe('v1.1.0');
    expect(server.requests[0]?.body).toBe('{"appVersion":"v1.0.0","extraTagInfo":{},"extraFieldInfo":{}}');
  });

  it.each(['scheduled', 'checkNow'])(
    'aborts a %s request in flight on stop(), and sends nothing afterwards',
    async (trigger) => {
      const responder = await startFakeResponder(neverAnswer);
      server = responder;
      const onResult = vi.fn<(result: UpgradeCheckResult) => void>();
      const onError = vi.fn<(error: UpgradeCheckError) => void>();
      const started = startUpgradeChecker({
        url: responder.baseUrl,
        appVersion: 'v1.0.0',
        initialDelayMs: trigger === 'scheduled' ? 0 : 60_000,
        timeoutMs: 60_000,
        intervalOverrideMinutes: 0.001,
        onResult,
        onError,
      });
      checker = started;
      // Settled into a value at once, so the rejection that stop() causes is handled from the start.
      const outcome =
        trigger === 'checkNow'
          ? started.checkNow().then(
              () => 'resolved',
              (error: UpgradeCheckError) => error.kind,
            )
          : undefined;
      await vi.waitFor(() => expect(responder.requests).toHaveLength(1));
      expect(responder.abandoned).toHaveLength(0);
      started.stop();
      await vi.waitFor(() => expect(responder.abandoned).toHaveLength(1));
      if (outcome) expect(await outcome).toBe('aborted');
      // Long enough for several retries at the override interval (60 ms) had the checker kept going.
      await sleep(300);
      expect(responder.requests).toHaveLength(1);
      expect(onResult).not.toHaveBeenCalled();
      expect(onError).not.toHaveBeenCalled();
    },
  );
});
