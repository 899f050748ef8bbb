import { describe, expect, it } from 'vitest';
import { nextPatchVersion } from './next-version.ts';

describe('nextPatchVersion', () => {
  it.each([
    [undefined, '0.1.0'],
    ['1.4.2', '1.4.3'],
    ['v1.4.9', 'v1.4.10'],
    ['2.0.0-rc.1', '2.0.0'],
    ['1.0.0+build.5', '1.0.1'],
    ['jetto-3.5.1', 'jetto-3.5.2'],
    ['jetto-3.5.1_2', 'jetto-3.5.2'],
    ['dist-x-7', 'dist-x-8'],
  ])('%s → %s', (newest, next) => {
    expect(nextPatchVersion(newest)).toBe(next);
  });

  it('asks for a name when it cannot tell', () => {
    expect(() => nextPatchVersion('latest')).toThrow('name the version to build');
  });
});
