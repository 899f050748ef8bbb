import { describe, expect, it } from 'vitest';
import { generateSetupCode, hashSetupCode, setupCodeAlphabet, setupCodeMatches } from './setup-code.ts';

describe('setup codes', () => {
  it('are 12 characters of an alphabet without look-alikes, in groups of four', () => {
    expect(setupCodeAlphabet).not.toMatch(/[01ILOUV]/);
    const codes = new Set(Array.from({ length: 200 }, generateSetupCode));
    expect(codes.size).toBe(200);
    for (const code of codes)
      expect(code).toMatch(/^[2-9A-HJKMNP-TW-Z]{4}-[2-9A-HJKMNP-TW-Z]{4}-[2-9A-HJKMNP-TW-Z]{4}$/);
    // At least 10 random characters: 29^12 is about 2^58.
    expect(12 * Math.log2(setupCodeAlphabet.length)).toBeGreaterThan(58);
  });

  it('match as typed, without regard to case, spaces or dashes, and nothing else', () => {
    const code = 'ABCD-EFGH-JKMN';
    const digest = hashSetupCode(code);
    expect(digest.toString('hex')).not.toContain('ABCD');
    expect(setupCodeMatches('ABCD-EFGH-JKMN', digest)).toBe(true);
    expect(setupCodeMatches(' abcd efgh jkmn ', digest)).toBe(true);
    expect(setupCodeMatches('abcdefghjkmn', digest)).toBe(true);
    expect(setupCodeMatches('ABCD-EFGH-JKMP', digest)).toBe(false);
    expect(setupCodeMatches('', digest)).toBe(false);
  });
});
