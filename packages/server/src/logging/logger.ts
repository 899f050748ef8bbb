import pino, { type DestinationStream, type Logger } from 'pino';
import { type LogFormat, resolveLogFormat } from './log-format.ts';

export interface LoggerOptions {
  level: string;
  format: LogFormat;
  /** Where lines go; standard output unless a test says otherwise. */
  destination?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: Record<string, string | undefined>;
}

/** The server's logger: one line per entry, as JSON or as time, level, message and fields for people. */
export async function createLogger(opts: LoggerOptions): Promise<Logger> {
  const destination = opts.destination ?? process.stdout;
  const env = opts.env ?? process.env;
  const base = { level: opts.level, redact: ['req.headers.authorization', 'influxdb.pass'] };
  if (resolveLogFormat(opts.format, destination.isTTY) === 'json') {
    return opts.destination ? pino(base, opts.destination as DestinationStream) : pino(base);
  }
  // Loaded only when used, so every other CLI command starts without it.
  const { default: pretty } = await import('pino-pretty');
  // In-process and synchronous, so log lines and the start banner reach the terminal in order.
  const stream = pretty({
    destination,
    sync: true,
    colorize: destination.isTTY === true && !env.NO_COLOR,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    singleLine: true,
  });
  return pino(base, stream);
}
