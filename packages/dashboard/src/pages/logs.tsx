import type { LogRecord } from '@flotilla/protocol';
import { useCallback, useEffect, useState } from 'react';
import { api, type LogSearch } from '../api/client.ts';
import { ServiceInstanceFields, TimeRangeFields, useFilterDraft, useUrlFilters } from '../components/filter-form.tsx';
import { NewestOlderPager } from '../components/pager.tsx';
import { Command, EmptyState, ErrorNote, Loading } from '../components/ui.tsx';
import { type FollowState, maxLines, mergeLines, useLogFollow } from './logs-follow.ts';

const pageSize = 200;
const levels = ['trace', 'debug', 'info', 'warn', 'error'];
const fields = ['service', 'instance', 'environment', 'level', 'from', 'to', 'q'] as const;

export function LogsPage() {
  const { filters: search, key, search: setSearch } = useUrlFilters(fields);
  const [lines, setLines] = useState<LogRecord[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [trimmed, setTrimmed] = useState(false);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>();
  const [follow, setFollow] = useState(false);

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

  const filtered = Object.keys(search).length > 0;
  return (
    <>
      <h2>Logs</h2>
      <SearchForm key={key} search={search} onSearch={setSearch} />
      <div className="pager">
        <button
          type="button"
          aria-pressed={follow}
          className={follow ? 'primary' : undefined}
          onClick={() => setFollow(!follow)}
        >
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
      {lines.length > 0 ? (
        <ol className="log" aria-label="Log lines, newest first">
          {lines.map((l) => (
            <li key={l.id} className={`lvl-${l.level}`}>
              <time dateTime={l.time}>{l.time.replace('T', ' ').replace('Z', '')}</time>{' '}
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
      <NewestOlderPager what="lines" onOlder={cursor && !trimmed ? older : undefined}>
        {trimmed ? (
          <span className="muted">
            Showing the newest {maxLines} lines; search again (or narrow the time range) for older ones.
          </span>
        ) : null}
      </NewestOlderPager>
    </>
  );
}

const stateText: Record<FollowState, string> = {
  off: '',
  connecting: 'Connecting…',
  live: 'Following: new lines appear at the top.',
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
