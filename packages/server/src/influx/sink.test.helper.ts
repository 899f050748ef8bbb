import { createServer as createHttpServer, type Server } from 'node:http';
import { type AddressInfo, connect, createServer as createTcpServer, type Socket } from 'node:net';
import type { CheckinRecord } from '../checkin/record.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { SinkLogger } from './registration.ts';

/** A loopback port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** An HTTP server on 127.0.0.1 that answers every request with 204 after `delayMs`. */
export async function slowServer(
  delayMs: number,
): Promise<{ url: string; requests: () => number; close(): Promise<void> }> {
  let requests = 0;
  const server: Server = createHttpServer((req, res) => {
    requests++;
    req.resume();
    const timer = setTimeout(() => res.writeHead(204).end(), delayMs);
    res.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A TCP proxy on `port` to `target` (host:port), started on demand: stands in for an InfluxDB coming up. */
export async function startProxy(port: number, target: URL): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: unknown;
  msg: string | undefined;
}

/** A logger that keeps what it is told, for assertions. */
export function memoryLogger(): SinkLogger & { entries: LogEntry[]; messages(level: LogEntry['level']): string[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) =>
    (obj: unknown, msg?: string): void => {
      entries.push({ level, obj, msg });
    };
  return {
    entries,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    messages: (level) => entries.filter((e) => e.level === level).map((e) => e.msg ?? ''),
  };
}

/** Current sink metric values with label sink="influxdb". */
export async function sinkCounts(metrics: Metrics) {
  const value = async (m: { get(): Promise<{ values: { value: number; labels: object }[] }> }, reason?: string) =>
    (await m.get()).values
      .filter((v) => (v.labels as { reason?: string }).reason === reason || reason === undefined)
      .filter((v) => (v.labels as { sink?: string }).sink === 'influxdb')
      .reduce((sum, v) => sum + v.value, 0);
  return {
    depth: await value(metrics.sinkQueueDepth),
    written: await value(metrics.sinkPointsWritten),
    queueFull: await value(metrics.sinkPointsDropped, 'queue_full'),
    writeFailed: await value(metrics.sinkPointsDropped, 'write_failed'),
    writeErrors: await value(metrics.sinkWriteErrors),
  };
}

/** A check-in with sensible defaults. */
export function checkin(overrides: Partial<CheckinRecord> = {}): CheckinRecord {
  return {
    time: Date.now(),
    app: 'test',
    appVersion: 'v1.0.0',
    countryIsoCode: 'US',
    country: 'United States',
    city: 'Boston',
    tags: {},
    fields: {},
    ...overrides,
  };
}
