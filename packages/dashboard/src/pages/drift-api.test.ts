import { describe, expect, it } from 'vitest';
import {
  behindLabel,
  countsText,
  driftListPath,
  formatAge,
  groupByPlace,
  releaseKind,
  runningText,
  safeHttpUrl,
  shadeOf,
  supportText,
  upstreamText,
} from './drift-api.ts';

describe('drift page helpers', () => {
  it('asks the list with every filter, one tag parameter per term, and the cursor', () => {
    const path = driftListPath(
      {
        environment: 'prod',
        place: ' eu-1 ',
        tag: 'team:core, tier:edge',
        behind: 'minor',
        stale: 'false',
        subject: '',
      },
      100,
      'c1',
    );
    const url = new URL(path, 'http://x');
    expect(url.pathname).toBe('/api/v1/drift');
    expect(url.searchParams.get('environment')).toBe('prod');
    expect(url.searchParams.get('place')).toBe('eu-1');
    expect(url.searchParams.has('subject')).toBe(false);
    expect(url.searchParams.getAll('tag')).toEqual(['team:core', 'tier:edge']);
    expect(url.searchParams.get('behind')).toBe('minor');
    expect(url.searchParams.get('stale')).toBe('false');
    expect(url.searchParams.get('limit')).toBe('100');
    expect(url.searchParams.get('after')).toBe('c1');
    expect(driftListPath({}, 50, null)).toBe('/api/v1/drift?limit=50');
  });

  it('says how far behind in words, with counts and singulars', () => {
    expect(behindLabel('major', { majorsBehind: 2 })).toBe('2 majors behind');
    expect(behindLabel('minor', { minorsBehind: 1 })).toBe('1 minor behind');
    expect(behindLabel('patch', { patchesBehind: 3 })).toBe('3 patches behind');
    expect(behindLabel('patch', {})).toBe('patch behind');
    expect(behindLabel('none')).toBe('current');
    expect(behindLabel('unknown')).toBe('unknown');
    expect(behindLabel('pending')).toBe('not compared yet');
    expect(behindLabel('untracked')).toBe('no upstream');
    expect(shadeOf({ behind: 'minor', resolvedAt: null })).toBe('minor');
    expect(shadeOf({ behind: null, resolvedAt: null })).toBe('pending');
    expect(shadeOf({})).toBe('pending');
    expect(shadeOf({ behind: null, resolvedAt: '2026-03-01T00:00:00Z' })).toBe('untracked');
    expect(countsText({ majorsBehind: 2, minorsBehind: 1, patchesBehind: 3 })).toBe(
      '2 majors, 1 minor and 3 patches behind',
    );
    expect(countsText({ majorsBehind: 0, minorsBehind: 0, patchesBehind: 1 })).toBe('1 patch behind');
    expect(countsText({ majorsBehind: 0, minorsBehind: 0, patchesBehind: 0 })).toBe('Current');
  });

  it('links only http(s) URLs', () => {
    expect(safeHttpUrl('https://github.com/coredns/coredns/releases/tag/v1.11.1')).toBe(
      'https://github.com/coredns/coredns/releases/tag/v1.11.1',
    );
    expect(safeHttpUrl('http://charts.example.com/x')).toBe('http://charts.example.com/x');
    expect(safeHttpUrl('javascript:alert(1)')).toBeNull();
    expect(safeHttpUrl('JavaScript:alert(1)')).toBeNull();
    expect(safeHttpUrl('data:text/html,<script>1</script>')).toBeNull();
    expect(safeHttpUrl('/relative/path')).toBeNull();
    expect(safeHttpUrl('')).toBeNull();
    expect(safeHttpUrl(undefined)).toBeNull();
  });

  it('classifies newer releases as the resolution did', () => {
    const r = { availableMajors: ['2.0.0'], availableMinors: ['1.9.0'], availablePatches: ['1.8.1'] };
    expect(['2.0.0', '1.9.0', '1.8.1', '1.9.0-rc.1'].map((v) => releaseKind(r, v))).toEqual([
      'major',
      'minor',
      'patch',
      'newer',
    ]);
  });

  it('writes running versions, upstreams and ages compactly', () => {
    expect(
      runningText([
        { runningVersion: '1.7.0', resourceCount: 3 },
        { runningVersion: '1.8.0', resourceCount: 1 },
      ]),
    ).toBe('1.7.0 ×3, 1.8.0');
    expect(runningText([])).toBe('—');
    expect(
      upstreamText({ provider: 'github', strategy: 'releases', repo: 'coredns/coredns', constraint: '~> 1.8' }),
    ).toBe('github releases coredns/coredns (~> 1.8)');
    expect(upstreamText(null)).toBe('');
    expect([45, 600, 7200, 3 * 86_400, null].map(formatAge)).toEqual(['45 s', '10 min', '2 h', '3 d', '—']);
  });

  it('says when support ends, urgent within 30 days or past', () => {
    const now = Date.parse('2026-03-01T00:00:00Z');
    expect(supportText('2026-03-02T00:00:00Z', now)).toEqual({ text: 'support ends in 1 day', urgent: true });
    expect(supportText('2026-03-31T00:00:00Z', now)).toEqual({ text: 'support ends in 30 days', urgent: true });
    expect(supportText('2026-06-01T00:00:00Z', now)).toEqual({ text: 'support ends in 92 days', urgent: false });
    expect(supportText('2026-02-01T00:00:00Z', now)).toEqual({ text: 'support ended', urgent: true });
    expect(supportText(null, now)).toBeNull();
    expect(supportText('not a date', now)).toBeNull();
  });

  it('groups consecutive rows by environment and place', () => {
    const rows = [
      { environment: 'prod', place: 'eu', subject: 'a' },
      { environment: 'prod', place: 'eu', subject: 'b' },
      { environment: 'prod', place: 'us', subject: 'a' },
      { environment: 'stg', place: 'eu', subject: 'a' },
    ];
    expect(groupByPlace(rows).map((g) => [g.environment, g.place, g.items.length])).toEqual([
      ['prod', 'eu', 2],
      ['prod', 'us', 1],
      ['stg', 'eu', 1],
    ]);
  });
});
