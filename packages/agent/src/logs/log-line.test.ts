import { describe, expect, it } from 'vitest';
import { type LogLine, parseLogLine } from './log-line.ts';

const now = Date.UTC(2030, 0, 2, 3, 4, 5, 6);
const local = (y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number) =>
  new Date(y, mo - 1, d, h, mi, s, ms).toISOString();

describe('parseLogLine', () => {
  const cases: [string, 'stdout' | 'stderr', Omit<LogLine, 'stream'>][] = [
    [
      '2024-05-01 12:00:00.123 INFO http listening on 8080',
      'stdout',
      { time: local(2024, 5, 1, 12, 0, 0, 123), level: 'info', unit: 'http', message: 'listening on 8080' },
    ],
    [
      '2024-05-01 23:59:59.999 ERROR db connection lost: timeout',
      'stdout',
      { time: local(2024, 5, 1, 23, 59, 59, 999), level: 'error', unit: 'db', message: 'connection lost: timeout' },
    ],
    [
      '2024-05-01 12:00:00.5 WARN cache  two  spaces kept',
      'stderr',
      { time: local(2024, 5, 1, 12, 0, 0, 500), level: 'warn', unit: 'cache', message: ' two  spaces kept' },
    ],
    [
      '2024-05-01 12:00:00 DEBUG main',
      'stdout',
      { time: local(2024, 5, 1, 12, 0, 0, 0), level: 'debug', unit: 'main', message: '' },
    ],
    [
      '2024-05-01 12:00:00,042 trace sched tick\r',
      'stdout',
      { time: local(2024, 5, 1, 12, 0, 0, 42), level: 'trace', unit: 'sched', message: 'tick' },
    ],
    [
      '2024-05-01 12:00:00.000 WARNING x y',
      'stdout',
      { time: local(2024, 5, 1, 12, 0, 0, 0), level: 'warn', unit: 'x', message: 'y' },
    ],
    [
      'plain text from a service',
      'stdout',
      { time: new Date(now).toISOString(), level: 'info', unit: '', message: 'plain text from a service' },
    ],
    [
      'Traceback (most recent call last):',
      'stderr',
      { time: new Date(now).toISOString(), level: 'error', unit: '', message: 'Traceback (most recent call last):' },
    ],
    [
      '2024-05-01 12:00:00.123 NOTICE http not a known level',
      'stdout',
      {
        time: new Date(now).toISOString(),
        level: 'info',
        unit: '',
        message: '2024-05-01 12:00:00.123 NOTICE http not a known level',
      },
    ],
    [
      '2024-13-45 12:00:00.123 INFO http impossible month',
      'stderr',
      {
        time: new Date(now).toISOString(),
        level: 'error',
        unit: '',
        message: '2024-13-45 12:00:00.123 INFO http impossible month',
      },
    ],
    ['', 'stdout', { time: new Date(now).toISOString(), level: 'info', unit: '', message: '' }],
  ];

  it.each(cases)('%j (%s)', (raw, stream, expected) => {
    expect(parseLogLine(raw, stream, now)).toEqual({ ...expected, stream });
  });
});
