import { describe, expect, it } from 'vitest';
import { compareVersionNames, parseVersionName, sortNewestFirst, type VersionName } from './version-name.ts';

const p = (name: string): VersionName => {
  const v = parseVersionName(name);
  if (!v) throw new Error(`${name} did not parse`);
  return v;
};

describe('version names', () => {
  it.each([
    ['1.2.3', 'semver'],
    ['v1.2.3-rc.1', 'semver'],
    ['0.0.1+build.7', 'semver'],
    ['jetto-3.5.1', 'build'],
    ['jetto-3.5.1_2', 'build'],
    ['my-dist-10', 'build'],
  ])('parses %s as %s', (name, kind) => {
    expect(parseVersionName(name)?.kind).toBe(kind);
  });

  it.each([
    '',
    '1.2',
    '01.2.3',
    'latest',
    'jetto',
    'jetto-',
    'jetto-3.5.1_',
    'Jetto-3.5',
    '-3.5',
    '../1.2.3',
    'a b',
    `v${'1'.repeat(130)}.0.0`,
  ])('refuses %j', (name) => {
    expect(parseVersionName(name)).toBeUndefined();
  });

  it('splits a hyphenated distribution from its build', () => {
    expect(p('my-dist-3.5')).toMatchObject({ prefix: 'my-dist', build: [3, 5], generation: 0 });
  });

  it.each([
    ['1.2.3', '1.2.4', -1],
    ['1.10.0', '1.9.0', 1],
    ['1.0.0-rc.1', '1.0.0', -1],
    ['1.0.0-rc.2', '1.0.0-rc.10', -1],
    ['v2.0.0', '1.99.99', 1],
    ['1.0.0-alpha', '1.0.0-alpha.1', -1],
    ['jetto-3.5.1', 'jetto-3.5.1_1', -1],
    ['jetto-3.5.1_2', 'jetto-3.5.1_10', -1],
    ['jetto-3.5.10', 'jetto-3.5.9_9', 1],
    ['jetto-3.10', 'jetto-3.9.9', 1],
    ['jetto-4', 'jetto-3.99', 1],
    ['jetto-3.5', 'jetto-3.5.0', -1],
    ['jetto-3.5.1_2', 'jetto-3.5.1_2', 0],
  ])('%s vs %s → %i', (a, b, expected) => {
    expect(compareVersionNames(p(a), p(b))).toBe(expected);
    expect(compareVersionNames(p(b), p(a))).toBe(expected === 0 ? 0 : -expected);
  });

  it('does not compare across distributions or kinds', () => {
    expect(compareVersionNames(p('jetto-3.5'), p('other-3.5'))).toBeUndefined();
    expect(compareVersionNames(p('jetto-3.5'), p('3.5.0'))).toBeUndefined();
  });

  it('sorts newest first, by version inside a group and by latest publication across groups', () => {
    const items = [
      { version: 'jetto-3.5.1', createdAt: '2026-01-01' },
      { version: '2.0.0', createdAt: '2026-01-02' },
      { version: 'jetto-3.5.1_2', createdAt: '2026-01-03' },
      { version: 'jetto-3.5.1_10', createdAt: '2026-01-04' },
      { version: 'jetto-3.4', createdAt: '2026-01-05' },
      { version: '10.0.0', createdAt: '2026-01-01' },
    ];
    expect(sortNewestFirst(items).map((i) => i.version)).toEqual([
      'jetto-3.5.1_10',
      'jetto-3.5.1_2',
      'jetto-3.5.1',
      'jetto-3.4',
      '10.0.0',
      '2.0.0',
    ]);
  });
});
