import type {
  DriftItem,
  DriftPage,
  DriftRunningVersion,
  DriftSeverity,
  DriftSubjectDetail,
  DriftUpstreamStatus,
  DriftVersionResolution,
} from '@flotilla/protocol';
import { request } from '../api/client.ts';

/** The list's filters as the API names them; `tag` holds `key:value` terms separated by spaces. */
export interface DriftFilters {
  environment?: string;
  place?: string;
  subject?: string;
  tag?: string;
  behind?: string;
  stale?: string;
}

/** `tag` is repeatable in the API: every `key:value` term must match. */
export function driftListPath(f: DriftFilters, limit: number, after: string | null): string {
  const q = new URLSearchParams();
  for (const k of ['environment', 'place', 'subject', 'behind', 'stale'] as const) {
    const v = f[k]?.trim();
    if (v) q.set(k, v);
  }
  for (const term of tagTerms(f.tag)) q.append('tag', term);
  q.set('limit', String(limit));
  if (after) q.set('after', after);
  return `/api/v1/drift?${q}`;
}

export const tagTerms = (text: string | undefined): string[] => (text ?? '').split(/[\s,]+/).filter(Boolean);

const enc = encodeURIComponent;

export const driftApi = {
  list: (f: DriftFilters, limit: number, after: string | null) =>
    request<DriftPage>('GET', driftListPath(f, limit, after)),
  subject: (subject: string) => request<DriftSubjectDetail>('GET', `/api/v1/drift/subjects/${enc(subject)}`),
  // A bare array by the contract; `{ items }` is read too, as other list routes answer.
  upstreams: async () => {
    const answer = await request<DriftUpstreamStatus[] | { items: DriftUpstreamStatus[] }>(
      'GET',
      '/api/v1/drift/upstreams',
    );
    return Array.isArray(answer) ? answer : (answer?.items ?? []);
  },
};

/** The `behind` filter's choices: at least that far behind, or exactly unknown/current. */
export const behindChoices = [
  { value: '', label: 'any' },
  { value: 'major', label: 'a major or more' },
  { value: 'minor', label: 'a minor or more' },
  { value: 'patch', label: 'a patch or more' },
  { value: 'unknown', label: 'unknown' },
  { value: 'current', label: 'current' },
] as const;

/**
 * Severity of a row: `pending` until the server has compared it (older servers send no field),
 * `untracked` once compared without an upstream to compare with.
 */
export type DriftShade = DriftSeverity | 'pending' | 'untracked';

export function shadeOf(item: { behind?: DriftSeverity | null; resolvedAt?: string | null }): DriftShade {
  if (item.behind) return item.behind;
  return item.resolvedAt ? 'untracked' : 'pending';
}

type Counts = { majorsBehind?: number | null; minorsBehind?: number | null; patchesBehind?: number | null };

/** The words shown with a severity's colour, so colour is never the only signal. */
export function behindLabel(shade: DriftShade, c: Counts = {}): string {
  switch (shade) {
    case 'none':
      return 'current';
    case 'unknown':
      return 'unknown';
    case 'pending':
      return 'not compared yet';
    case 'untracked':
      return 'no upstream';
    case 'major':
      return `${countText(c.majorsBehind, 'major')} behind`;
    case 'minor':
      return `${countText(c.minorsBehind, 'minor')} behind`;
    case 'patch':
      return `${countText(c.patchesBehind, 'patch')} behind`;
  }
}

/** `2 majors, 1 minor and 3 patches behind`, or `Current` when nothing newer is available. */
export function countsText(c: { majorsBehind: number; minorsBehind: number; patchesBehind: number }): string {
  const parts = [
    c.majorsBehind > 0 ? countText(c.majorsBehind, 'major') : '',
    c.minorsBehind > 0 ? countText(c.minorsBehind, 'minor') : '',
    c.patchesBehind > 0 ? countText(c.patchesBehind, 'patch') : '',
  ].filter(Boolean);
  if (parts.length === 0) return 'Current';
  const last = parts.pop() as string;
  return `${parts.length > 0 ? `${parts.join(', ')} and ${last}` : last} behind`;
}

/** Whether a newer release is a new major, a minor of the running major, or a patch, as classified. */
export function releaseKind(
  r: Pick<DriftVersionResolution, 'availableMajors' | 'availableMinors' | 'availablePatches'>,
  version: string,
): string {
  if (r.availableMajors.includes(version)) return 'major';
  if (r.availableMinors.includes(version)) return 'minor';
  if (r.availablePatches.includes(version)) return 'patch';
  return 'newer';
}

/** A tracker's upstream in one line: `github releases coredns/coredns (~> 1.8)`. */
export function upstreamText(u: DriftItem['upstream'] | undefined): string {
  if (!u) return '';
  const what = [u.provider, u.strategy, u.repo, u.chart].filter(Boolean).join(' ');
  return u.constraint ? `${what} (${u.constraint})` : what;
}

function countText(n: number | null | undefined, unit: 'major' | 'minor' | 'patch'): string {
  if (typeof n !== 'number' || n < 1) return unit;
  if (n === 1) return `1 ${unit}`;
  return unit === 'patch' ? `${n} patches` : `${n} ${unit}s`;
}

/** Only http(s) links to upstream pages are followed; anything else (javascript:, data:) is shown as text. */
export function safeHttpUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

/** `3 (2), 1.8.0 (1)`-style: each running version with how many resources run it. */
export const runningText = (versions: readonly DriftRunningVersion[]): string =>
  versions.length === 0
    ? '—'
    : versions
        .map((v) => `${v.runningVersion || '(none)'}${v.resourceCount > 1 ? ` ×${v.resourceCount}` : ''}`)
        .join(', ');

/** End of support in words, `urgent` once it is past or within 30 days (a finding, as a major behind is). */
export function supportText(
  iso: string | null | undefined,
  now = Date.now(),
): { text: string; urgent: boolean } | null {
  const at = iso ? Date.parse(iso) : Number.NaN;
  if (Number.isNaN(at)) return null;
  const days = Math.ceil((at - now) / 86_400_000);
  if (days <= 0) return { text: 'support ended', urgent: true };
  return { text: `support ends in ${days} day${days === 1 ? '' : 's'}`, urgent: days <= 30 };
}

/** An age in words: `45 s`, `12 min`, `3 h`, `2 d`. */
export function formatAge(seconds: number | null | undefined): string {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}

/** Items in API order (environment, place, subject), in one group per place. */
export function groupByPlace<T extends Pick<DriftItem, 'environment' | 'place'>>(
  items: readonly T[],
): { environment: string; place: string; items: T[] }[] {
  const groups: { environment: string; place: string; items: T[] }[] = [];
  for (const item of items) {
    const last = groups[groups.length - 1];
    if (last && last.environment === item.environment && last.place === item.place) last.items.push(item);
    else groups.push({ environment: item.environment, place: item.place, items: [item] });
  }
  return groups;
}
