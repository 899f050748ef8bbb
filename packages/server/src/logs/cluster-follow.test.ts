import { Writable } from 'node:stream';
import pino from 'pino';
import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { type FakeBus, joinedBuses } from '../cluster/testing.test.helper.ts';
import { linkLogHub } from './cluster-follow.ts';
import { LogHub } from './follow.ts';
import { createLogService } from './service.ts';

class Sink extends Writable {
  text = '';
  override _write(chunk: string | Buffer, _enc: BufferEncoding, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
  get messages(): string[] {
    return this.text
      .split('\n\n')
      .filter((f) => f.startsWith('event: line\n'))
      .map((f) => JSON.parse(f.slice(f.indexOf('data: ') + 6)).message);
  }
}

const until = async (what: () => boolean) => {
  for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
};

const line = (message: string, time = new Date().toISOString()) => ({
  service: 'web',
  time,
  level: 'info' as const,
  unit: 'u',
  stream: 'stdout' as const,
  message,
});

describeEachStore(allStoreKinds)('log follow between replicas on %s', (kind) => {
  const handle = useMigratedDatabase(kind);

  it('brings lines stored by another replica to this one, in order, once, and catches up after missed notices', async () => {
    const [busA, busB] = joinedBuses(2) as [FakeBus, FakeBus];
    const logger = pino({ level: 'silent' });
    const hubA = new LogHub();
    const hubB = new LogHub();
    const unlinkA = linkLogHub(hubA, busA, handle.current.db, logger);
    const unlinkB = linkLogHub(hubB, busB, handle.current.db, logger);
    const service = (hub: LogHub) =>
      createLogService({ db: handle.current.db, dialect: handle.current.dialect, retentionMs: 86_400_000, hub });
    const onB = new Sink();
    hubB.follow({}, onB);

    // Out of time order within the batch: followers elsewhere get it by (time, id).
    const earlier = new Date(Date.now() - 1000).toISOString();
    await service(hubA).ingest({ environment: 'prod' }, { instanceId: 'h1', lines: [line('2'), line('1', earlier)] });
    await service(hubA).ingest({ environment: 'prod' }, { instanceId: 'h1', lines: [line('3')] });
    await until(() => onB.messages.length >= 3);
    expect(onB.messages).toEqual(['1', '2', '3']);

    // Notices lost (the connection dropped): the resync reads what arrived since, and nothing twice.
    const cutAt = Date.now();
    busA.cut = true;
    await service(hubA).ingest({ environment: 'prod' }, { instanceId: 'h2', lines: [line('4'), line('5')] });
    await new Promise((r) => setTimeout(r, 50));
    expect(onB.messages).toHaveLength(3);
    busB.resync(cutAt);
    await until(() => onB.messages.length >= 5);
    busB.resync(cutAt);
    await new Promise((r) => setTimeout(r, 100));
    expect(onB.messages).toEqual(['1', '2', '3', '4', '5']);

    // Lines stored here go to this replica's followers at once, not read back.
    const before = onB.messages.length;
    await service(hubB).ingest({ environment: 'prod' }, { instanceId: 'h3', lines: [line('6')] });
    expect(onB.messages).toHaveLength(before + 1);

    unlinkA();
    unlinkB();
    hubA.closeAll();
    hubB.closeAll();
  });
});
