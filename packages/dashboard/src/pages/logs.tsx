import type { LogRecord } from '@flotilla/protocol';
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { useSearchParams } from 'react-router';
import { api, type LogSearch } from '../api/client.ts';
import { ServiceInstanceFields, TimeRangeFields, useFilterDraft, useUrlFilters } from '../components/filter-form.tsx';
import { zoneName } from '../components/local-time.ts';
import { NewestOlderPager } from '../components/pager.tsx';
import { Command, EmptyState, ErrorNote, formatTime, Loading } from '../components/ui.tsx';
import { type FollowState, maxLines, mergeLines, useLogFollow } from './logs-follow.ts';

const pageSize = 200;
const levels = ['trace', 'debug', 'info', 'warn', 'error'];
const fields = ['service', 'instance', 'environment', 'level', 'from', 'to', 'q'] as const;

export function LogsPage() {
  const { filters: search, key, search: setSearch } = useUrlFilters(fields);
  // `at`: the time to bring into view (a fault's), set by the fault page's link next to from/to.
  const at = useSearchParams()[0].get('at');
  const [lines, setLines] = useState<LogRecord[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [trimmed, setTrimmed] = useState(false);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>();
  const [follow, setFollow] = useState(false);
  const view = useTailScroll(lines, loading, at);

  const add = useCallback((more: LogRecord[]) => {
    setLines((current) => {
      const merged = mergeLines(current, more);
      if (merged.trimmed) setTrimmed(true);
      return merged.lines;
    });
  }, []);

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(undefined);
    setTrimmed(false);
    api.logs({ ...search, limit: pageSize }).then(
      (page) => {
        if (!live) return;
        setLines(page.lines);
        setCursor(page.nextCursor);
        setLoading(false);
      },
      (err: Error) => {
        if (!live) return;
        setLines([]);
        setError(err);
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [search]);

  // After a reconnection, a search fills in what was stored while the stream was down.
  const refill = useCallback(() => {
    api.logs({ ...search, limit: pageSize }).then((page) => add(page.lines), setError);
  }, [search, add]);
  const { state, dropped } = useLogFollow(follow, search, add, refill);

  async function older() {
    if (!cursor) return;
    setError(undefined);
    try {
      const page = await api.logs({ ...search, limit: pageSize, cursor });
      add(page.lines);
      setCursor(page.nextCursor);
    } catch (err) {
      setError(err);
    }
  }

  const ranged = Boolean(search.from || search.to);
  const { from: _from, to: _to, ...withoutRange } = search;
  const newest = () => setSearch(withoutRange);
  function toggleFollow() {
    // New lines are never inside a range that has ended: following starts from the newest.
    if (!follow && ranged) newest();
    setFollow(!follow);
  }

  const filtered = Object.keys(search).length > 0;
  const shown = [...lines].reverse();
  return (
    <>
      <h2>Logs</h2>
      <SearchForm key={key} search={search} onSearch={setSearch} />
      {ranged ? (
        <p className="log-range" data-testid="log-range">
          <strong>
            {['Lines', search.from && `from ${formatTime(search.from)}`, search.to && `to ${formatTime(search.to)}`]
              .filter(Boolean)
              .join(' ')}{' '}
            ({zoneName()})
          </strong>
          {at ? ` around the fault at ${formatTime(at)}` : ''}.{' '}
          <button type="button" onClick={newest}>
            Newest lines
          </button>
        </p>
      ) : null}
      <div className="pager">
        <button type="button" aria-pressed={follow} className={follow ? 'primary' : undefined} onClick={toggleFollow}>
          {follow ? 'Stop following' : 'Follow'}
        </button>
        <FollowStatus state={state} dropped={dropped} />
      </div>
      <ErrorNote error={error} title="Logs could not be loaded" />
      {loading && lines.length === 0 ? <Loading what="log lines" /> : null}
      {!loading && !error && lines.length === 0 ? (
        filtered ? (
          <EmptyState title="No matching lines">
            <p>
              Nothing matches this search. Widen it (another level, a longer time range, less text), or turn on Follow
              to see new lines as they arrive.
            </p>
          </EmptyState>
        ) : (
          <EmptyState title="No log lines yet">
            <p>
              Agents upload what their services write to stdout and stderr. Run an agent on a host with an agent token
              of its environment, and its services' lines appear here:
            </p>
            <Command>{`flotilla agent --server ${location.origin} --token <agent token>`}</Command>
          </EmptyState>
        )
      ) : null}
      <NewestOlderPager what="lines" onOlder={cursor && !trimmed ? older : undefined}>
        {trimmed ? (
          <span className="muted">
            Showing the newest {maxLines} lines; search again (or narrow the time range) for older ones.
          </span>
        ) : null}
      </NewestOlderPager>
      {shown.length > 0 ? (
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
        <ol ref={view.ref} onScroll={view.onScroll} className="log" aria-label="Log lines, oldest first" tabIndex={0}>
          {shown.map((l) => (
            <li key={l.id} className={`lvl-${l.level}`} data-mark={l.id === view.marked ? 'fault' : undefined}>
              <time dateTime={l.time}>{formatTime(l.time, { ms: true })}</time>{' '}
              <span className="lvl">{l.level.toUpperCase().padEnd(5)}</span> <span className="src">{l.instanceId}</span>{' '}
              <span className="src">
                {l.service}
                {l.unit && l.unit !== l.service ? `/${l.unit}` : ''}
              </span>{' '}
              <span className="msg">{l.message}</span>
            </li>
          ))}
        </ol>
      ) : null}
    </>
  );
}

/**
 * Keeps the (oldest-first) list at its end like a terminal: a fresh search opens at the last line, or
 * with `at` at the last line written by then; new lines keep it there unless the reader scrolled up.
 */
function useTailScroll(lines: LogRecord[], loading: boolean, at: string | null) {
  const ref = useRef<HTMLOListElement>(null);
  const pinned = useRef(true);
  const placed = useRef(false);
  const atMs = at ? Date.parse(at) : Number.NaN;
  // Newest first: the first line written by `at` is the one the crash left last.
  const marked = Number.isNaN(atMs) ? undefined : lines.find((l) => Date.parse(l.time) <= atMs)?.id;
  if (loading) placed.current = false;
  // biome-ignore lint/correctness/useExhaustiveDependencies: new lines are what moves the end
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el || loading) return;
    if (!placed.current) {
      placed.current = true;
      pinned.current = true;
      const mark = marked ? el.querySelector<HTMLElement>('[data-mark="fault"]') : null;
      if (mark) {
        // The fault's line sits near the bottom of the view, with the lines before it above.
        el.scrollTop = Math.max(0, mark.offsetTop - el.offsetTop - el.clientHeight * 0.75);
        pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        return;
      }
    }
    if (pinned.current) el.scrollTop = el.scrollHeight;
  }, [lines, loading, marked]);
  const onScroll = () => {
    const el = ref.current;
    if (el) pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };
  return { ref, onScroll, marked };
}

const stateText: Record<FollowState, string> = {
  off: '',
  connecting: 'Connecting…',
  live: 'Following: new lines appear at the bottom.',
  reconnecting: 'The stream dropped; reconnecting…',
  stopped: 'The stream stopped. Turn Follow off and on to try again.',
};

function FollowStatus({ state, dropped }: { state: FollowState; dropped: number }) {
  return (
    <span
      role="status"
      className={state === 'reconnecting' || state === 'stopped' ? 'bad' : 'muted'}
      data-follow={state}
    >
      {stateText[state]}
      {dropped > 0 ? ` The server skipped ${dropped} line(s) while this page read too slowly.` : ''}
    </span>
  );
}

function SearchForm({ search, onSearch }: { search: LogSearch; onSearch: (s: LogSearch) => void }) {
  const { draft, set, submit } = useFilterDraft(fields, search, onSearch);
  return (
    <form className="filters" onSubmit={submit} aria-label="Search logs">
      <ServiceInstanceFields draft={draft} set={set} />
      <label>
        Environment
        <input
          value={draft.environment ?? ''}
          onChange={(e) => set({ environment: e.target.value })}
          placeholder="any"
        />
      </label>
      <label>
        Level and above
        <select value={draft.level ?? ''} onChange={(e) => set({ level: e.target.value })}>
          <option value="">any</option>
          {levels.map((l) => (
            <option key={l}>{l}</option>
          ))}
        </select>
      </label>
      <TimeRangeFields draft={draft} set={set} />
      <label>
        Text
        <input type="search" value={draft.q ?? ''} onChange={(e) => set({ q: e.target.value })} />
      </label>
      <button type="submit">Search</button>
    </form>
  );
}
