import Fastify from 'fastify';
import pino from 'pino';
import { expect, it } from 'vitest';
import { allStoreKinds, describeEachStore, useMigratedDatabase } from '../../test/support/databases.ts';
import { TokenStore } from '../auth/tokens.ts';
import type { ServerConfig } from '../config/config.ts';
import { createMetrics } from '../metrics/metrics.ts';
import { logsRoutes } from './routes.ts';
import { createLogService } from './service.ts';

describeEachStore(allStoreKinds)('logs plugin retention on %s', (kind) => {
  const handle = useMigratedDatabase(kind);

  it('deletes lines past their retention when the server starts, and stops at close', async () => {
    const { db, dialect } = handle.current;
    const day = 86_400_000;
    const logs = createLogService({ db, dialect, retentionMs: day });
    const line = (time: number, message: string) => ({
      service: 'web',
      time: new Date(time).toISOString(),
      level: 'info' as const,
      unit: 'u',
      stream: 'stdout' as const,
      message,
    });
    await logs.ingest(
      { environment: 'prod' },
      { instanceId: 'h', lines: [line(Date.now() - 2 * day, 'old'), line(Date.now() - 1000, 'recent')] },
    );
    const app = Fastify();
    await app.register(logsRoutes, {
      db,
      dialect,
      tokens: new TokenStore(db),
      dataDir: '/nonexistent',
      logger: pino({ level: 'silent' }),
      metrics: createMetrics(),
      config: { logRetentionMs: day } as ServerConfig,
    });
    await app.ready();
    let messages: string[] = [];
    for (let i = 0; i < 100; i++) {
      messages = (await logs.search({})).lines.map((l) => l.message);
      if (messages.length === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(messages).toEqual(['recent']);
    await app.close();
  });
});
