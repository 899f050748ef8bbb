import { useSyncExternalStore } from 'react';

// The one time zone every time in the dashboard is shown (and typed) in: the viewer's, or UTC.

export type ZoneChoice = 'local' | 'utc';

const storageKey = 'flotilla.timeZone';
const listeners = new Set<() => void>();
let choice: ZoneChoice = readChoice();

function readChoice(): ZoneChoice {
  try {
    return globalThis.localStorage?.getItem(storageKey) === 'utc' ? 'utc' : 'local';
  } catch {
    return 'local';
  }
}

export function zoneChoice(): ZoneChoice {
  return choice;
}

/** Switches every time shown to `next` and remembers it in this browser. */
export function setZoneChoice(next: ZoneChoice): void {
  choice = next;
  try {
    globalThis.localStorage?.setItem(storageKey, next);
  } catch {
    // Private modes may refuse storage; the choice still holds until the page reloads.
  }
  for (const l of listeners) l();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The current choice; the component renders again when it changes. */
export function useZoneChoice(): ZoneChoice {
  return useSyncExternalStore(subscribe, zoneChoice, zoneChoice);
}

let viewerZone: string | undefined;

/** The zone's name as shown beside times: "UTC" or the viewer's IANA zone, e.g. "Europe/Berlin". */
export function zoneName(c: ZoneChoice = choice): string {
  if (c === 'utc') return 'UTC';
  viewerZone ??= Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
  return viewerZone;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(c: ZoneChoice, ms: boolean): Intl.DateTimeFormat {
  const key = `${c}:${ms}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: c === 'utc' ? 'UTC' : undefined,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      ...(ms ? { fractionalSecondDigits: 3 as const } : {}),
    });
    formatters.set(key, f);
  }
  return f;
}

/** `2026-03-01 12:00:05` (with `ms`, `12:00:05.123`) in the chosen zone. */
export function formatInZone(d: Date, opts: { ms?: boolean; zone?: ZoneChoice } = {}): string {
  const parts: Record<string, string> = {};
  for (const p of formatter(opts.zone ?? choice, opts.ms === true).formatToParts(d)) parts[p.type] = p.value;
  const frac = opts.ms ? `.${parts.fractionalSecond ?? '000'}` : '';
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}${frac}`;
}

/** An `<input type="datetime-local">` value (in the chosen zone) as an ISO time; '' stays ''. */
export function localToIso(local: string): string {
  if (!local) return '';
  const d = new Date(choice === 'utc' ? `${local}Z` : local);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** An ISO time as an `<input type="datetime-local">` value in the chosen zone. */
export function isoToLocal(iso: string | undefined): string {
  const d = new Date(iso ?? '');
  if (!iso || Number.isNaN(d.getTime())) return '';
  if (choice === 'utc') return d.toISOString().slice(0, 16);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}
