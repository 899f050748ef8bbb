import type { DriftSubjectDetail, DriftVersionResolution } from '@flotilla/protocol';
import { formatTable, formatTime } from '../output.ts';

type Place = DriftSubjectDetail['places'][number];

/** Releases newer than the version, newest first, at most this many per running version. */
const maxReleasesShown = 20;

function placeRows(p: Place): Array<Record<string, string | number>> {
  const base = {
    place: p.place,
    environment: p.environment,
    stale: p.staleSince ? `since ${formatTime(p.staleSince)}` : '',
  };
  if (p.versions.length === 0)
    return [
      {
        ...base,
        running: '(none)',
        count: '',
        latest: p.latest ?? '',
        behind: '',
        majors: '',
        minors: '',
        patches: '',
      },
    ];
  return p.versions.map((v) => {
    const r = p.resolution.find((x) => x.runningVersion === v.runningVersion);
    // Without a per-version comparison the row's own (oldest version's) figures stand in.
    const behind = r?.behind ?? p.behind;
    return {
      ...base,
      running: v.runningVersion || '(empty)',
      count: v.resourceCount,
      latest: p.latest ?? '',
      behind: behind === 'none' ? 'current' : (behind ?? (p.resolvedAt ? '' : 'pending')),
      majors: r?.majorsBehind ?? p.majorsBehind ?? '',
      minors: r?.minorsBehind ?? p.minorsBehind ?? '',
      patches: r?.patchesBehind ?? p.patchesBehind ?? '',
    };
  });
}

function releases(version: string, r: DriftVersionResolution): string {
  const lines = [`Newer than ${version}:`];
  for (const n of r.newer.slice(0, maxReleasesShown)) {
    const date = n.publishedAt ? n.publishedAt.slice(0, 10) : '';
    lines.push(`  ${[n.version, date, n.prerelease ? 'prerelease' : '', n.url ?? ''].filter(Boolean).join('  ')}`);
  }
  if (r.newer.length > maxReleasesShown)
    lines.push(`  … ${r.newer.length - maxReleasesShown} more (--json lists them)`);
  if (r.supportEndsAt) lines.push(`  support of ${version} ends ${r.supportEndsAt.slice(0, 10)}`);
  return lines.join('\n');
}

/** `flotilla drift show`: one row per (place, running version), then the newer releases of each running version. */
export function printSubject(d: DriftSubjectDetail): string {
  const out = [`${d.subject}: latest ${d.latest ?? 'unknown'}`, ''];
  const columns = [
    'place',
    'environment',
    'running',
    'count',
    'latest',
    'behind',
    'majors',
    'minors',
    'patches',
    'stale',
  ];
  out.push(formatTable(d.places.flatMap(placeRows), columns).trimEnd());
  // Each running version once, with the first comparison found for it.
  const seen = new Set<string>();
  for (const p of d.places)
    for (const r of p.resolution) {
      if (seen.has(r.runningVersion) || r.newer.length === 0) continue;
      seen.add(r.runningVersion);
      out.push('', releases(r.runningVersion, r));
    }
  const problems = d.places.flatMap((p) => [
    ...(p.error ? [`${p.place} (${p.environment}): tracker error: ${p.error}`] : []),
    ...(p.resolveError ? [`${p.place} (${p.environment}): not compared: ${p.resolveError}`] : []),
  ]);
  if (problems.length > 0) out.push('', ...problems);
  return `${out.join('\n')}\n`;
}
