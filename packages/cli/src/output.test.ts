import { describe, expect, it } from 'vitest';
import { columnHeader, formatTable, formatTime, shorten } from './output.ts';

describe('tables people read', () => {
  it('turns column keys into words', () => {
    expect(columnHeader('maxHistory')).toBe('MAX HISTORY');
    expect(columnHeader('createdAt')).toBe('CREATED');
    expect(columnHeader('lastUsedAt')).toBe('LAST USED');
    expect(columnHeader('requiresTestedIn')).toBe('REQUIRES TESTED IN');
    expect(columnHeader('at')).toBe('AT');
    expect(columnHeader('version')).toBe('VERSION');
  });

  it('aligns columns under their headers, and says what is missing when there are no rows', () => {
    const rows = [
      { name: 'web', maxHistory: 50 },
      { name: 'billing', maxHistory: null },
    ];
    expect(formatTable(rows, ['name', 'maxHistory'])).toBe('NAME     MAX HISTORY\nweb      50\nbilling\n');
    expect(formatTable([], ['name'], 'no services yet')).toBe('no services yet\n');
    expect(formatTable([], ['name'])).toBe('(none)\n');
  });

  it('shows times in local time to the second, and nothing for none', () => {
    const t = new Date(2026, 2, 10, 14, 5, 9, 250);
    expect(formatTime(t.toISOString())).toBe('2026-03-10 14:05:09');
    expect(formatTime(null)).toBe('');
    expect(formatTime('not a time')).toBe('not a time');
  });

  it('cuts long notes to their first line', () => {
    expect(shorten('first line\nsecond line')).toBe('first line');
    expect(shorten('x'.repeat(60), 10)).toBe(`${'x'.repeat(9)}…`);
    expect(shorten(null)).toBe('');
  });
});
