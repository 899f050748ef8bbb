import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { writeTemp } from '../../test/support/server.ts';
import { makeTempDir } from '../../test/support/temp-dir.ts';
import { resolveServerConfig } from '../config/config.ts';
import { resolveLogFormat } from './log-format.ts';
import { createLogger } from './logger.ts';

/** A destination that keeps what it is given and says whether it is a terminal. */
function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _enc, done) {
        chunks.push(chunk.toString());
        done();
      },
    }),
    { isTTY },
  );
  return { stream, text: () => chunks.join('') };
}

describe('server log format', () => {
  it('is pretty on a terminal: time, level, message and fields on one line, no colours with NO_COLOR', async () => {
    const out = sink(true);
    const logger = await createLogger({
      level: 'info',
      format: 'auto',
      destination: out.stream,
      env: { NO_COLOR: '1' },
    });
    logger.info({ url: 'http://127.0.0.1:8314', apps: ['default'] }, 'flotilla server listening');
    logger.debug('not shown at info');
    expect(out.text()).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: flotilla server listening \{"url":"http:\/\/127\.0\.0\.1:8314","apps":\["default"\]\}\n$/,
    );
  });

  it('colours the level on a terminal unless NO_COLOR is set', async () => {
    const out = sink(true);
    (await createLogger({ level: 'info', format: 'pretty', destination: out.stream, env: {} })).warn('careful');
    expect(out.text()).toContain('\u001b[');
    expect(out.text()).toContain('careful');
  });

  it('is one JSON object a line when not on a terminal, or when asked', async () => {
    for (const [isTTY, format] of [
      [false, 'auto'],
      [true, 'json'],
    ] as const) {
      const out = sink(isTTY);
      (await createLogger({ level: 'info', format, destination: out.stream })).info({ n: 1 }, 'hello');
      const line = JSON.parse(out.text().trim());
      expect(line).toMatchObject({ level: 30, msg: 'hello', n: 1 });
      expect(typeof line.time).toBe('number');
    }
  });

  it('is pretty without colours when asked for on a pipe', async () => {
    const out = sink(false);
    (await createLogger({ level: 'info', format: 'pretty', destination: out.stream, env: {} })).error('broken');
    expect(out.text()).toMatch(/^\[[\d:.]+\] ERROR: broken\n$/);
  });

  it('chooses by terminal only for auto', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', undefined)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });

  it('comes from --log-format, FLOTILLA_LOG_FORMAT or the file, auto by default, and refuses others', () => {
    expect(resolveServerConfig({}, {}, '/srv').logFormat).toBe('auto');
    expect(resolveServerConfig({ logFormat: 'json' }, {}, '/srv').logFormat).toBe('json');
    expect(resolveServerConfig({}, { FLOTILLA_LOG_FORMAT: 'pretty' }, '/srv').logFormat).toBe('pretty');
    const file = writeTemp(makeTempDir(), 'f.yaml', 'logFormat: json\n');
    expect(resolveServerConfig({ config: file }, {}, '/srv').logFormat).toBe('json');
    expect(() => resolveServerConfig({ logFormat: 'xml' }, {}, '/srv')).toThrow(
      'log-format: "xml" is not one of auto, pretty, json',
    );
    const bad = writeTemp(makeTempDir(), 'g.yaml', 'logFormat: xml\n');
    expect(() => resolveServerConfig({ config: bad }, {}, '/srv')).toThrow('logFormat');
  });
});
