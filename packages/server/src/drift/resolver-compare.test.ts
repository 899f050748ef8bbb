import { describe, expect, it } from 'vitest';
import { compare, maxNewer } from './resolver-compare.ts';

const running = (...versions: string[]) => versions.map((runningVersion) => ({ runningVersion, resourceCount: 1 }));

describe('comparing running versions with an upstream list', () => {
  it('keeps the 100 newest newer releases, newest first', () => {
    const list = Array.from({ length: 150 }, (_, i) => ({ version: `1.0.${i + 1}` }));
    const c = compare(running('1.0.0'), list, null);
    expect(c.resolution[0]?.newer).toHaveLength(maxNewer);
    expect(c.resolution[0]?.newer[0]?.version).toBe('1.0.150');
    expect(c.resolution[0]?.newer.at(-1)?.version).toBe('1.0.51');
    // The counts are not capped.
    expect(c).toMatchObject({ behind: 'patch', patchesBehind: 150, latest: '1.0.150' });
  });

  it('skips deprecated versions and names the extraction does not match', () => {
    const list = [{ version: 'chart-2.0.0', deprecated: true }, { version: 'chart-1.5.0' }, { version: 'nightly' }];
    const c = compare(running('1.0.0'), list, {
      provider: 'helm',
      extraction: { regex: { pattern: '^chart-(.*)$' } },
    });
    expect(c).toMatchObject({ latest: '1.5.0', behind: 'minor', error: null });
  });

  it('says why when nothing upstream passes, and leaves a row without running versions uncompared', () => {
    expect(compare(running('1.0.0'), [{ version: 'nightly' }], null)).toMatchObject({
      behind: 'unknown',
      error: 'no upstream name is a version',
    });
    const extraction = { regex: { pattern: '^app-(.*)$' } };
    expect(compare(running('1.0.0'), [{ version: '1.2.0' }], { provider: 'oci', extraction })).toMatchObject({
      error: 'no upstream name matches the extraction',
    });
    expect(compare(running('1.0.0'), [{ version: '1.2.0' }], { provider: 'github', constraint: '>= 3' })).toMatchObject(
      {
        latest: null,
        behind: 'unknown',
        error: 'no upstream version passes the constraint',
      },
    );
    expect(compare([], [{ version: '1.2.0' }], null)).toMatchObject({ behind: null, latest: '1.2.0', resolution: [] });
  });

  it('takes the row figures from the oldest running version, whatever the order', () => {
    const list = ['2.0.0', '1.10.0', '1.9.0', '1.9.1'].map((version) => ({ version }));
    const c = compare(running('1.10.0', '1.9.0', 'latest'), list, null);
    expect([c.behind, c.majorsBehind, c.minorsBehind, c.patchesBehind]).toEqual(['major', 1, 1, 1]);
    expect(c.resolution.map((r) => [r.runningVersion, r.behind])).toEqual([
      ['1.10.0', 'major'],
      ['1.9.0', 'major'],
      ['latest', 'unknown'],
    ]);
    expect(c.error).toBe('running version "latest" is not a version');
  });
});
