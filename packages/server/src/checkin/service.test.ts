import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { AppConfig } from '../config/config.ts';
import { createMetrics } from '../metrics/metrics.ts';
import type { AppRegistry, CheckinApp } from './apps.ts';
import type { InstanceKeys } from './instance-keys.ts';
import { emptySchema } from './request-schema.ts';
import { type CheckinAnswer, createCheckinService, type StoreFailurePolicy } from './service.ts';
import { CheckinNotStored, type CheckinWriter } from './writer.ts';

const body = '{"versions":[],"requestIntervalInMinutes":60}';
const app: CheckinApp = {
  config: { name: 'a', queryPeriodMs: 3_600_000 } as AppConfig,
  responseConfigPath: null,
  schema: emptySchema,
  tagKeys: [],
  requestIntervalInMinutes: 60,
  response: { versions: [], body },
};

/** A service over a writer that fails while `failing` is set, with its log lines and metrics. */
function setup(policy?: StoreFailurePolicy) {
  const state = { failing: null as CheckinNotStored | null, now: 1_000_000, stored: 0, sunk: [] as string[] };
  const lines: Array<{ level: number; msg: string; unstored?: number }> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const metrics = createMetrics();
  const writer = {
    submit: async () => {
      if (state.failing) throw state.failing;
      state.stored += 1;
    },
  } as unknown as CheckinWriter;
  const instanceKeys = {
    digest: async () => {
      if (state.failing) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      return 'digest';
    },
  } as unknown as InstanceKeys;
  const service = createCheckinService({
    apps: {} as AppRegistry,
    writer,
    instanceKeys,
    geo: null,
    sinks: [{ enqueue: (record) => state.sunk.push(record.appVersion) }],
    metrics,
    logger,
    now: () => state.now,
    ...(policy ? { onStoreFailure: policy } : {}),
  });
  const checkIn = (extra = '') => service.checkIn(app, `{"appVersion":"v1"${extra}}`, '203.0.113.9');
  const unstored = async (reason: string) =>
    (await metrics.registry.getSingleMetric('flotilla_checkins_unstored_total')?.get())?.values.find(
      (v) => v.labels.reason === reason,
    )?.value ?? 0;
  return { state, lines, checkIn, unstored };
}

describe('check-ins the store cannot take', () => {
  it('are answered by default, counted, and logged once per incident and once on recovery', async () => {
    const { state, lines, checkIn, unstored } = setup();
    expect(await checkIn()).toBe(body);
    state.failing = new CheckinNotStored('store_failed', 'the check-in could not be stored', new Error('EIO'));
    const answers: CheckinAnswer[] = [];
    for (let i = 0; i < 5; i++) answers.push(await checkIn());
    // The instance key lives in the store too: an instance id cannot turn a store failure into a 500.
    answers.push(await checkIn(',"instanceId":"i-1"'));
    expect(answers).toEqual(Array(6).fill({ body, unstored: 'store_failed' }));
    expect(await unstored('store_failed')).toBe(6);
    expect(lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([
      'check-ins cannot be stored; answering check-ins without storing them until the store recovers (--on-store-failure answer)',
    ]);

    state.failing = null;
    // Storing again, but too soon after the last failure to call the incident over.
    expect(await checkIn()).toBe(body);
    expect(lines.filter((l) => l.level === 30)).toEqual([]);
    state.now += 5000;
    expect(await checkIn()).toBe(body);
    expect(await checkIn()).toBe(body);
    const recovered = lines.filter((l) => l.level === 30);
    expect(recovered.map((l) => [l.msg, l.unstored])).toEqual([
      ['check-ins are stored again; 6 could not be stored meanwhile', 6],
    ]);
    expect(state.stored).toBe(4);
  });

  it('still reach the sinks under answer, as stored ones do, but not under refuse', async () => {
    const answering = setup();
    expect(await answering.checkIn()).toBe(body);
    answering.state.failing = new CheckinNotStored('store_failed', 'the check-in could not be stored');
    expect(await answering.checkIn()).toEqual({ body, unstored: 'store_failed' });
    expect(answering.state.sunk).toEqual(['v1', 'v1']);
    expect(answering.state.stored).toBe(1);

    // A refused check-in is sent again by its client: handing it on now would count it twice.
    const refusing = setup('refuse');
    refusing.state.failing = new CheckinNotStored('queue_full', 'too many check-ins are waiting to be stored');
    await expect(refusing.checkIn()).rejects.toBeInstanceOf(CheckinNotStored);
    expect(refusing.state.sunk).toEqual([]);
  });

  it('are refused with 503 and Retry-After under refuse, counted and logged once', async () => {
    const { state, lines, checkIn, unstored } = setup('refuse');
    state.failing = new CheckinNotStored('queue_full', 'too many check-ins are waiting to be stored');
    for (let i = 0; i < 3; i++) {
      const refused = await checkIn().catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(CheckinNotStored);
      expect(refused).toMatchObject({ code: 'unavailable', headers: { 'retry-after': '5' } });
    }
    expect(await unstored('queue_full')).toBe(3);
    expect(lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([
      'check-ins cannot be stored; refusing check-ins with 503 until the store recovers (--on-store-failure refuse)',
    ]);
  });

  it('lets other errors through as they are', async () => {
    const { state, checkIn } = setup();
    state.failing = new Error('a bug') as CheckinNotStored;
    await expect(checkIn()).rejects.toThrow('a bug');
  });
});
