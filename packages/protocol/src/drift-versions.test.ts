import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  classify,
  compareVersions,
  constraintProblem,
  latestSatisfying,
  parseConstraint,
  parseVersion,
  satisfies,
  sortVersions,
  VersionSyntaxError,
} from './drift-versions.ts';

describe('parseVersion', () => {
  it('normalises v prefixes, partial, four-part, prerelease and build versions', () => {
    expect(parseVersion('v1.8.6')?.normalized).toBe('1.8.6');
    expect(parseVersion('1.8')?.normalized).toBe('1.8.0');
    expect(parseVersion('3')?.normalized).toBe('3.0.0');
    const four = parseVersion('v4.5.0.5');
    expect(four).toMatchObject({ original: 'v4.5.0.5', normalized: '4.5.0.5', parts: [4, 5, 0, 5] });
    expect(parseVersion('1.2.3-rc.1+build.7')).toMatchObject({
      normalized: '1.2.3-rc.1+build.7',
      prerelease: ['rc', '1'],
      build: ['build', '7'],
    });
    expect(parseVersion('1.0.0beta1')?.prerelease).toEqual(['beta1']); // go-version accepts this form
    expect(parseVersion(' 1.25.3-alpine \n')).toMatchObject({ original: '1.25.3-alpine', prerelease: ['alpine'] });
    expect(parseVersion('01.002.3')?.normalized).toBe('1.2.3');
  });

  it('refuses what is not a version', () => {
    for (const bad of [
      '',
      'latest',
      'v',
      '1.',
      '.1',
      '1..2',
      '1.2.3-',
      '1.2.3+',
      'x1.2',
      '1.2.3 4',
      '99999999999999999999',
    ]) {
      expect(parseVersion(bad), bad).toBeNull();
    }
    expect(parseVersion(`1.${'1'.repeat(200)}`)).toBeNull();
    expect(parseVersion(undefined as unknown as string)).toBeNull();
  });
});

describe('compareVersions', () => {
  it('orders numerically on every part, prereleases before releases, ignoring build', () => {
    expect(compareVersions('1.10.0', '1.9.0')).toBe(1);
    expect(compareVersions('v1.8', '1.8.0')).toBe(0);
    expect(compareVersions('v4.5.0.5', '4.5.0')).toBe(1);
    expect(compareVersions('4.5.0.5', '4.5.0.10')).toBe(-1);
    expect(compareVersions('4.5.0.0', '4.5.0')).toBe(0);
    expect(compareVersions('1.0.0-rc.1', '1.0.0')).toBe(-1);
    expect(compareVersions('1.0.0-alpha', '1.0.0-alpha.1')).toBe(-1);
    expect(compareVersions('1.0.0-alpha.1', '1.0.0-alpha.beta')).toBe(-1);
    expect(compareVersions('1.0.0-rc.2', '1.0.0-rc.10')).toBe(-1);
    expect(compareVersions('1.0.0+a', '1.0.0+b')).toBe(0);
  });

  it('throws VersionSyntaxError for non-versions and sorts lists by version, not text', () => {
    expect(() => compareVersions('latest', '1.0.0')).toThrow(VersionSyntaxError);
    expect(sortVersions(['1.10.0', 'junk', '1.9.0', 'v1.9.1', '1.0.0-rc.1', '1.0.0'])).toEqual([
      '1.0.0-rc.1',
      '1.0.0',
      '1.9.0',
      'v1.9.1',
      '1.10.0',
    ]);
  });
});

describe('satisfies: hashicorp constraints (go-version semantics)', () => {
  // Cases from hashicorp/go-version's constraint tests, which Opvic uses.
  const cases: [string, string, boolean][] = [
    ['>= 1.0, < 1.2', '1.1.5', true],
    ['< 1.0, < 1.2', '1.1.5', false],
    ['= 1.0', '1.1.5', false],
    ['= 1.0', '1.0.0', true],
    ['= 1.0', '1.0.5', false],
    ['~> 1.0', '2.0', false],
    ['~> 1.0', '1.1', true],
    ['~> 1.0', '1.2.3', true],
    ['~> 1.0.0', '1.2.3', false],
    ['~> 1.0.0', '1.0.7', true],
    ['~> 1.0.0', '1.1.0', false],
    ['~> 1.0.7', '1.0.4', false],
    ['~> 1.0.7', '1.0.7', true],
    ['~> 1.0.7', '1.0.8', true],
    ['~> 1.0.7', '1.0.7.5', true],
    ['~> 1.0.7', '1.0.6.99', false],
    ['~> 1.0.7', '1.0.8.0', true],
    ['~> 1.0.9.5', '1.0.9.5', true],
    ['~> 1.0.9.5', '1.0.9.4', false],
    ['~> 1.0.9.5', '1.0.9.6', true],
    ['~> 1.0.9.5', '1.0.9.5.1', true],
    ['~> 1.0.9.5', '1.1.0', false],
    ['~> 2.0', '2.1.0-beta', false],
    ['~> 2.1.0-a', '2.2.0', false],
    ['~> 2.1.0-a', '2.1.0', false],
    ['~> 2.1.0-a', '2.1.0-beta', true],
    ['~> 2.1.0-a', '2.2.0-alpha', false],
    ['> 2.0', '2.1.0-beta', false],
    ['>= 2.1.0-a', '2.1.0-beta', true],
    ['>= 2.1.0-a', '2.1.1-beta', false],
    ['>= 2.0.0', '2.1.0-beta', false],
    ['>= 2.1.0-a', '2.1.1', true],
    ['>= 2.1.0-a', '2.1.0', true],
    ['<= 2.1.0-a', '2.0.0', true],
    // Opvic's examples
    ['~>3', '3.9.1', true],
    ['~>3', '4.0.0', true], // one part: no upper bound in go-version
    ['~>3', '2.9.9', false],
    ['~> 1.2', '1.9.0', true],
    ['~> 1.2', '2.0.0', false],
    ['~> 1.2.3', '1.2.9', true],
    ['~> 1.2.3', '1.3.0', false],
    ['>= 1.1.0', '1.1.0', true],
    ['>= 1.1.0', '1.0.9', false],
    ['!= 1.2.0', '1.2.0', false],
    ['!= 1.2.0', '1.2.1', true],
    ['>= 1.0, != 1.5.0, < 2', '1.5.0', false],
    ['>= 1.0, != 1.5.0, < 2', '1.5.1', true],
    ['>= 4.5.0.3', 'v4.5.0.5', true],
    ['>= 4.5.0.6', 'v4.5.0.5', false],
  ];
  it.each(cases)('%s vs %s → %s', (constraint, version, expected) => {
    expect(satisfies(version, constraint)).toBe(expected);
  });

  it('reads commas, ~> and != as hashicorp syntax, four-part single terms too', () => {
    for (const c of ['>= 1.0, < 1.2', '~>3', '!= 1.2.0', '>= 4.5.0.3'])
      expect(parseConstraint(c).syntax).toBe('hashicorp');
    for (const c of ['>= 1.1.0', '^1.2', '1.x || 3']) expect(parseConstraint(c).syntax).toBe('npm');
  });

  it('includePrereleases lets prereleases through', () => {
    expect(satisfies('2.1.0-beta', '~> 2.0')).toBe(false);
    expect(satisfies('2.1.0-beta', '~> 2.0', { includePrereleases: true })).toBe(true);
    expect(satisfies('2.1.0-beta', '>= 2.0.0', { includePrereleases: true })).toBe(true);
  });
});

describe('satisfies: npm ranges', () => {
  const cases: [string, string, boolean][] = [
    ['^1.2', '1.9.9', true],
    ['^1.2', '2.0.0', false],
    ['^1.2', '1.1.9', false],
    ['1.x', '1.99.0', true],
    ['1.x', '2.0.0', false],
    ['>=1 <2', '1.5.0', true],
    ['>=1 <2', '2.0.0', false],
    ['^1 || ^3', '3.1.0', true],
    ['^1 || ^3', '2.1.0', false],
    ['~1.2.3', '1.2.9', true],
    ['~1.2.3', '1.3.0', false],
    ['1.2.3 - 1.4', '1.4.7', true],
    ['^1.2', 'v1.4.0.7', true], // four-part versions compare on every part
    ['<1.4.0.7', '1.4.0.6', true],
    ['^1.2', '1.3.0-rc.1', false],
    ['>=1.3.0-rc.0', '1.3.0-rc.1', true],
    ['>=1.3.0-rc.0', '1.4.0-rc.1', false],
    ['*', '1.3.0', true],
    ['*', '1.3.0-rc.1', false],
    ['', '0.0.1', true],
  ];
  it.each(cases)('%s vs %s → %s', (constraint, version, expected) => {
    expect(satisfies(version, constraint)).toBe(expected);
  });

  it('includePrereleases applies to ranges too; non-versions never satisfy', () => {
    expect(satisfies('1.3.0-rc.1', '^1.2', { includePrereleases: true })).toBe(true);
    expect(satisfies('latest', '*')).toBe(false);
  });
});

describe('parseConstraint', () => {
  it('refuses bad constraints with a message naming the problem', () => {
    expect(() => parseConstraint('>= banana')).toThrow(VersionSyntaxError);
    expect(constraintProblem('>= 1.0, banana')).toMatch(/"banana" is not an operator and a version/);
    expect(constraintProblem('~> x')).toMatch(/not an operator and a version/);
    expect(constraintProblem('>>1')).toMatch(/neither a hashicorp constraint nor an npm range/);
    expect(constraintProblem('1,'.repeat(40))).toMatch(/more than 32 terms/);
    expect(constraintProblem(`>=${'1'.repeat(300)}`)).toMatch(/longer than 256/);
    expect(constraintProblem('~>3')).toBeUndefined();
    expect(constraintProblem('^1 || ~2.1')).toBeUndefined();
  });
});

describe('latestSatisfying', () => {
  const releases = ['1.7.0', '1.7.1', '1.8.0', '1.8.6', '1.9.0-rc.1', '2.0.0', 'v2.1.0', 'nightly'];
  it('returns the highest release passing the constraint, as given', () => {
    expect(latestSatisfying(releases)).toBe('v2.1.0');
    expect(latestSatisfying(releases, '~> 1.7')).toBe('1.8.6');
    expect(latestSatisfying(releases, '^1')).toBe('1.8.6');
    expect(latestSatisfying(releases, '>= 3')).toBeNull();
    expect(latestSatisfying(['1.9.0-rc.1', '1.8.0'])).toBe('1.8.0');
    expect(latestSatisfying(['1.9.0-rc.1', '1.8.0'], undefined, { includePrereleases: true })).toBe('1.9.0-rc.1');
    expect(latestSatisfying(['1.9.0-rc.1', '1.8.0'], '>= 1.9.0-rc.0')).toBe('1.9.0-rc.1');
    expect(latestSatisfying([])).toBeNull();
  });
});

describe('classify', () => {
  it('reproduces the seed CoreDNS answer, sorted by version', () => {
    const upstream = ['1.6.9', '1.7.0', '1.7.1', '1.8.0', '1.8.1', '1.8.2', '1.8.3', '1.8.4', '1.8.5', '1.8.6'];
    expect(classify('1.7.0', upstream)).toEqual({
      latest: '1.8.6',
      availableVersions: ['1.7.1', '1.8.0', '1.8.1', '1.8.2', '1.8.3', '1.8.4', '1.8.5', '1.8.6'],
      availableMajors: [],
      availableMinors: ['1.8.0', '1.8.1', '1.8.2', '1.8.3', '1.8.4', '1.8.5', '1.8.6'],
      availablePatches: ['1.7.1'],
      majorsBehind: 0,
      minorsBehind: 1,
      patchesBehind: 1,
    });
  });

  it('keeps only the latest of each newer major, orders 1.10 after 1.9, drops junk and duplicates', () => {
    const r = classify('v1.9.0', [
      '3.0.0',
      '2.1.0',
      '2.0.0',
      '1.10.0',
      '1.9.1',
      'v1.9.1',
      'garbage',
      '1.11.2',
      '3.2.1',
    ]);
    expect(r.availableMajors).toEqual(['2.1.0', '3.2.1']);
    expect(r.availableMinors).toEqual(['1.10.0', '1.11.2']);
    expect(r.availablePatches).toEqual(['1.9.1']);
    expect(r).toMatchObject({ latest: '3.2.1', majorsBehind: 2, minorsBehind: 2, patchesBehind: 1 });
  });

  it('applies the constraint before classifying, and excludes prereleases unless asked', () => {
    const upstream = ['1.7.1', '1.8.0', '2.0.0-rc.1', '2.0.0', '3.0.0'];
    expect(classify('1.7.0', upstream, '~> 1.7')).toMatchObject({ latest: '1.8.0', availableMajors: [] });
    expect(classify('1.7.0', ['1.7.1', '2.0.0-rc.1']).availableMajors).toEqual([]);
    expect(classify('1.7.0', ['1.7.1', '2.0.0-rc.1'], undefined, { includePrereleases: true }).availableMajors).toEqual(
      ['2.0.0-rc.1'],
    );
  });

  it('counts a newer fourth part as a patch', () => {
    expect(classify('v4.5.0.5', ['v4.5.0.5', 'v4.5.0.6', 'v4.6.0.1'])).toMatchObject({
      latest: 'v4.6.0.1',
      availablePatches: ['v4.5.0.6'],
      availableMinors: ['v4.6.0.1'],
      patchesBehind: 1,
    });
  });

  it('is up to date when nothing newer exists, and refuses a running value that is no version', () => {
    expect(classify('2.0.0', ['1.0.0', '2.0.0'])).toMatchObject({
      latest: '2.0.0',
      availableVersions: [],
      majorsBehind: 0,
      minorsBehind: 0,
      patchesBehind: 0,
    });
    expect(() => classify('latest', ['1.0.0'])).toThrow(/running version "latest" is not a version/);
  });
});

describe('helm appVersion values (recorded stable index)', () => {
  const index = parse(
    readFileSync(join(import.meta.dirname, '../../server/test/fixtures/drift/helm-stable-index.yaml'), 'utf8'),
  ) as { entries: Record<string, { version: string; appVersion?: string }[]> };
  const appVersions = (chart: string) => (index.entries[chart] ?? []).map((e) => e.appVersion ?? '');

  it('compares four-part aerospike appVersions on all four parts', () => {
    const list = appVersions('aerospike');
    expect(list).toContain('v4.5.0.5');
    expect(list).toContain('v3.14.1.2');
    expect(latestSatisfying(list)).toBe('v4.5.0.5');
    expect(latestSatisfying(list, '~> 3.14')).toBe('v3.14.1.2');
    expect(classify('v3.14.1.2', list)).toMatchObject({ latest: 'v4.5.0.5', majorsBehind: 1 });
  });

  it('takes airflow appVersions like 1.10.2 and skips entries without one', () => {
    const list = appVersions('airflow');
    expect(list).toContain('1.10.2');
    expect(latestSatisfying(list, '~> 1.10.0')).toMatch(/^1\.10\./);
    const old = appVersions('acs-engine-autoscaler');
    expect(old).toContain(''); // old entries have no appVersion
    expect(latestSatisfying(old)).toBe('2.1.1');
    const charts = (index.entries['acs-engine-autoscaler'] ?? []).map((e) => e.version);
    expect(latestSatisfying(charts)).toBe('2.2.2');
  });
});
