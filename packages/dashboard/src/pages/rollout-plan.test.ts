import type { LogRecord } from '@flotilla/protocol';
import { describe, expect, it } from 'vitest';
import { maxLines, mergeLines } from './logs-follow.ts';
import { parsePairs, parseWaves } from './rollout-plan.ts';

describe('the rollout form', () => {
  it('reads service=version pairs separated by spaces, commas or lines', () => {
    expect(parsePairs('web=2.0.0, api=1.4.0\nworker=3', 'Versions')).toEqual({
      web: '2.0.0',
      api: '1.4.0',
      worker: '3',
    });
    expect(() => parsePairs('web 2.0.0', 'Versions')).toThrow('Versions: "web" is not name=value');
    expect(() => parsePairs('=2.0.0', 'Versions')).toThrow('is not name=value');
  });

  it('puts a selector wave before the percentages', () => {
    expect(parseWaves('10, 50%, 100', 'ring=canary')).toEqual([
      { selector: { ring: 'canary' } },
      { percent: 10 },
      { percent: 50 },
      { percent: 100 },
    ]);
    expect(parseWaves('', 'ring=canary region=eu')).toEqual([{ selector: { ring: 'canary', region: 'eu' } }]);
    expect(() => parseWaves('0, 100', '')).toThrow('"0" is not a percentage');
    expect(() => parseWaves('150', '')).toThrow('"150" is not a percentage');
    expect(() => parseWaves(' ', '')).toThrow('at least one');
  });
});

const line = (id: string): LogRecord => ({
  id,
  time: '2026-05-01T10:00:00.000Z',
  receivedAt: '2026-05-01T10:00:00.000Z',
  environment: 'prod',
  instanceId: 'host-1',
  service: 'web',
  version: null,
  pid: null,
  level: 'info',
  unit: 'http',
  stream: 'stdout',
  message: id,
});

describe('merging log lines', () => {
  it('keeps them newest first without duplicates', () => {
    const current = [line('0003'), line('0001')];
    const merged = mergeLines(current, [line('0004'), line('0003'), line('0002')]);
    expect(merged.lines.map((l) => l.id)).toEqual(['0004', '0003', '0002', '0001']);
    expect(merged.trimmed).toBe(false);
    expect(mergeLines(current, [line('0001')]).lines).toBe(current);
  });

  it(`keeps at most ${maxLines} lines, dropping the oldest`, () => {
    const many = Array.from({ length: maxLines }, (_, i) => line(String(i).padStart(5, '0'))).reverse();
    const merged = mergeLines(many, [line('99999')]);
    expect(merged.lines).toHaveLength(maxLines);
    expect(merged.lines[0]?.id).toBe('99999');
    expect(merged.lines.at(-1)?.id).toBe('00001');
    expect(merged.trimmed).toBe(true);
  });
});
