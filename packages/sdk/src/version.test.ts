import { describe, expect, it } from 'vitest';
import { compareNewestFirst, compareVersions, parseVersion } from './version.ts';

/** Asserts that every name ranks strictly below every later one, in both argument orders. */
function expectAscending(names: string[]): void {
  for (let i = 0; i < names.length; i++) {
    for (let j = 0; j < names.length; j++) {
      const expected = i < j ? -1 : i > j ? 1 : 0;
      expect(compareVersions(names[i] as string, names[j] as string), `${names[i]} vs ${names[j]}`).toBe(expected);
    }
  }
}

describe('compareVersions', () => {
  it('follows the semver 2.0.0 precedence example', () => {
    expectAscending([
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '2.0.0',
      '2.1.0',
      '2.1.1',
    ]);
  });

  it('compares numeric parts as numbers, not text', () => {
    expectAscending(['1.9.0', '1.10.0', '1.10.2', '1.10.10', '10.0.0']);
  });

  it('compares numeric prerelease identifiers beyond the safe integer range exactly', () => {
    expectAscending(['1.0.0-alpha.9999999999999999999', '1.0.0-alpha.99999999999999999999', '1.0.0-alpha.a']);
  });

  it('ranks numeric identifiers below alphanumeric ones and compares the rest in ASCII order', () => {
    expectAscending(['1.0.0-1', '1.0.0-1a', '1.0.0-A', '1.0.0-a', '1.0.0-a-b', '1.0.0-b']);
  });

  it('treats a leading v as optional', () => {
    expect(compareVersions('v1.2.3', '1.2.3')).toBe(0);
    expect(compareVersions('v1.2.3', '1.2.4')).toBe(-1);
    expect(compareVersions('1.5.0', 'v1.4.9')).toBe(1);
  });

  it('ignores build metadata for precedence', () => {
    expect(compareVersions('v1.36.4+rke2r1', 'v1.36.4+rke2r2')).toBe(0);
    expect(compareVersions('v1.36.4+rke2r1', 'v1.36.4')).toBe(0);
    expect(compareVersions('v1.36.4+rke2r1', 'v1.36.3+rke2r9')).toBe(1);
    expect(compareVersions('1.0.0-rc.1+build.5', '1.0.0')).toBe(-1);
  });

  it('orders distribution builds by semver, then by build generation', () => {
    expectAscending([
      'jetto-3.5.1-rc.1',
      'jetto-3.5.1',
      'jetto-3.5.1_1',
      'jetto-3.5.1_2',
      'jetto-3.5.1_10',
      'jetto-3.5.2',
    ]);
    expect(compareVersions('jetto-3.5.1_0', 'jetto-3.5.1')).toBe(0);
  });

  it('does not compare across prefixes or with plain semver', () => {
    expect(compareVersions('jetto-3.5.1', 'v3.5.1')).toBeUndefined();
    expect(compareVersions('jetto-3.5.1', 'other-3.5.0')).toBeUndefined();
    expect(compareVersions('3.5.0', 'jetto-3.5.1')).toBeUndefined();
  });

  it('returns undefined when either side is not a version', () => {
    expect(compareVersions('latest', 'v1.0.0')).toBeUndefined();
    expect(compareVersions('v1.0.0', '1.0')).toBeUndefined();
  });

  it('accepts parsed versions as well as names', () => {
    const parsed = parseVersion('v2.0.0');
    expect(parsed).not.toBeNull();
    expect(compareVersions(parsed as NonNullable<typeof parsed>, 'v1.0.0')).toBe(1);
  });
});

describe('parseVersion', () => {
  it('splits a semver name into its parts', () => {
    expect(parseVersion('v1.36.4-rc.1+rke2r1.x')).toEqual({
      raw: 'v1.36.4-rc.1+rke2r1.x',
      prefix: '',
      major: 1,
      minor: 36,
      patch: 4,
      prerelease: ['rc', '1'],
      build: ['rke2r1', 'x'],
      generation: 0,
    });
  });

  it('splits a distribution-build name into prefix, semver and generation', () => {
    expect(parseVersion('jetto-3.5.1_2')).toMatchObject({
      prefix: 'jetto',
      major: 3,
      minor: 5,
      patch: 1,
      generation: 2,
    });
    expect(parseVersion('my-app-1.2.3')).toMatchObject({ prefix: 'my-app', major: 1, generation: 0 });
    expect(parseVersion('jetto-v3.5.1-rc.2+b7_4')).toMatchObject({
      prefix: 'jetto',
      prerelease: ['rc', '2'],
      build: ['b7'],
      generation: 4,
    });
  });

  it.each([
    '',
    'latest',
    'v',
    '1.2',
    '1.2.3.4',
    '01.2.3',
    '1.02.3',
    '1.2.3-01',
    '1.2.3-',
    '1.2.3+',
    '1.2.3-rc..1',
    ' 1.2.3',
    '1.2.3 ',
    'V1.2.3',
    'vv1.2.3',
    'v1.2.3_2',
    'jetto_3.5.1',
    'jetto-3.5.1_01',
    'jetto-3.5.1_',
    '-3.5.1',
    '9007199254740992.0.0',
    `x-${'1'.repeat(300)}.0.0`,
  ])('rejects %j', (name) => {
    expect(parseVersion(name)).toBeNull();
  });
});

describe('compareNewestFirst', () => {
  it('sorts newest first, groups prefixes and puts non-versions last in their original order', () => {
    const names = ['nightly', 'v1.0.0', 'jetto-1.0.0', 'v2.0.0-rc.1', 'edge', 'v2.0.0', 'jetto-1.0.0_3', 'v1.10.0'];
    expect([...names].sort(compareNewestFirst)).toEqual([
      'v2.0.0',
      'v2.0.0-rc.1',
      'v1.10.0',
      'v1.0.0',
      'jetto-1.0.0_3',
      'jetto-1.0.0',
      'nightly',
      'edge',
    ]);
  });
});
