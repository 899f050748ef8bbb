import type { LogRecord } from '@flotilla/protocol';
import { useEffect, useRef, useState } from 'react';
import { type LogSearch, logFollowUrl } from '../api/client.ts';

/** Lines kept in memory; beyond this the oldest go. */
export const maxLines = 2000;

/** Merges lines into a newest-first list without duplicates (ids sort by time, then arrival). */
export function mergeLines(current: LogRecord[], more: LogRecord[]): { lines: LogRecord[]; trimmed: boolean } {
  const seen = new Set(current.map((l) => l.id));
  const fresh = more.filter((l) => !seen.has(l.id));
  if (fresh.length === 0) return { lines: current, trimmed: false };
  const all = [...fresh, ...current].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return { lines: all.slice(0, maxLines), trimmed: all.length > maxLines };
}

export type FollowState = 'off' | 'connecting' | 'live' | 'reconnecting' | 'stopped';

/**
 * While `on`, a server-sent-event stream of new lines matching `search`; each arrival goes to
 * `onLines`. `onOpen` runs on every (re)connection so the caller can fill a gap with a search.
 */
export function useLogFollow(
  on: boolean,
  search: LogSearch,
  onLines: (lines: LogRecord[]) => void,
  onOpen: () => void,
): { state: FollowState; dropped: number } {
  const [state, setState] = useState<FollowState>('off');
  const [dropped, setDropped] = useState(0);
  const handlers = useRef({ onLines, onOpen });
  handlers.current = { onLines, onOpen };
  const key = JSON.stringify(search);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` stands for `search`
  useEffect(() => {
    if (!on) {
      setState('off');
      return;
    }
    setState('connecting');
    setDropped(0);
    const source = new EventSource(logFollowUrl(search));
    let opened = false;
    // Several lines in one tick are handed over together, so a burst renders once.
    let batch: LogRecord[] = [];
    let scheduled = false;
    source.onopen = () => {
      setState('live');
      if (opened) handlers.current.onOpen();
      opened = true;
    };
    source.onerror = () => setState(source.readyState === EventSource.CLOSED ? 'stopped' : 'reconnecting');
    source.addEventListener('line', (e) => {
      try {
        batch.push(JSON.parse((e as MessageEvent<string>).data) as LogRecord);
      } catch {
        return;
      }
      if (scheduled) return;
      scheduled = true;
      setTimeout(() => {
        scheduled = false;
        const lines = batch;
        batch = [];
        handlers.current.onLines(lines);
      }, 50);
    });
    source.addEventListener('dropped', (e) => {
      try {
        const n = (JSON.parse((e as MessageEvent<string>).data) as { dropped: number }).dropped;
        setDropped((d) => d + n);
      } catch {
        // A malformed notice is not worth more than the lines themselves.
      }
    });
    return () => source.close();
  }, [on, key]);
  return { state, dropped };
}
