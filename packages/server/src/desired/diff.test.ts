import { describe, expect, it } from 'vitest';
import { diffVersions, isEmptyDiff, newlyDesired, sortedVersions } from './diff.ts';

describe('diffVersions', () => {
  it('finds added, removed and changed services, sorted by name', () => {
    const diff = diffVersions(
      { web: '1.0', api: '2.0', db: '3.0' },
      { web: '1.1', db: '3.0', zeta: '0.1', cache: '1' },
    );
    expect(diff).toEqual({
      added: [
        { service: 'cache', version: '1' },
        { service: 'zeta', version: '0.1' },
      ],
      removed: [{ service: 'api', version: '2.0' }],
      changed: [{ service: 'web', from: '1.0', to: '1.1' }],
    });
    expect(isEmptyDiff(diff)).toBe(false);
  });

  it('is empty for equal lists, whatever the key order', () => {
    const diff = diffVersions({ a: '1', b: '2' }, { b: '2', a: '1' });
    expect(isEmptyDiff(diff)).toBe(true);
  });

  it('handles empty lists on either side', () => {
    expect(diffVersions({}, { a: '1' }).added).toEqual([{ service: 'a', version: '1' }]);
    expect(diffVersions({ a: '1' }, {}).removed).toEqual([{ service: 'a', version: '1' }]);
  });

  it('does not treat inherited object keys as services', () => {
    expect(diffVersions({}, { constructor: '1' }).added).toEqual([{ service: 'constructor', version: '1' }]);
    expect(isEmptyDiff(diffVersions({}, {}))).toBe(true);
  });
});

describe('newlyDesired', () => {
  it('lists added and changed targets but not removals or unchanged entries', () => {
    expect(newlyDesired({ a: '1', b: '1', c: '1' }, { a: '1', b: '2', d: '4' })).toEqual([
      { service: 'b', version: '2' },
      { service: 'd', version: '4' },
    ]);
  });
});

describe('sortedVersions', () => {
  it('orders keys', () => {
    expect(Object.keys(sortedVersions({ z: '1', a: '2', m: '3' }))).toEqual(['a', 'm', 'z']);
  });
});
