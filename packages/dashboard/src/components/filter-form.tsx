import { type FormEvent, useMemo, useState } from 'react';
import { useSearchParams } from 'react-router';
import { isoToLocal, localToIso } from './local-time.ts';

export type Filters<F extends string> = Partial<Record<F, string>>;

/**
 * A search kept in the URL: the non-empty `fields` of its query, `key` that changes only when
 * they do (for deps and to reset a form), and `search` to replace them.
 */
export function useUrlFilters<F extends string>(fields: readonly F[]) {
  const [params, setParams] = useSearchParams();
  const fromUrl: Filters<F> = {};
  for (const f of fields) {
    const v = params.get(f);
    if (v) fromUrl[f] = v;
  }
  const key = JSON.stringify(fromUrl);
  const filters = useMemo(() => JSON.parse(key) as Filters<F>, [key]);
  return { filters, key, search: (next: Filters<F>) => setParams(next as Record<string, string>) };
}

const isTime = (f: string) => f === 'from' || f === 'to';

/**
 * The draft of a filter form over `fields`: times are edited as browser-local `datetime-local`
 * values and handed to `onSearch` as ISO times; blank fields are left out.
 */
export function useFilterDraft<F extends string>(
  fields: readonly F[],
  filters: Filters<F>,
  onSearch: (f: Filters<F>) => void,
) {
  const [draft, setDraft] = useState<Filters<F>>(() => {
    const local: Filters<F> = { ...filters };
    for (const f of fields) if (isTime(f)) local[f] = isoToLocal(filters[f]);
    return local;
  });
  const set = (patch: Filters<F>) => setDraft({ ...draft, ...patch });
  function submit(e: FormEvent) {
    e.preventDefault();
    const out: Filters<F> = {};
    for (const f of fields) {
      const v = (draft[f] ?? '').trim();
      if (v) out[f] = isTime(f) ? localToIso(v) : v;
    }
    onSearch(out);
  }
  return { draft, set, submit };
}

interface FieldProps<F extends string> {
  draft: Filters<F>;
  set: (patch: Filters<F>) => void;
}

/** The "Service" and "Instance" text fields; empty means any. */
export function ServiceInstanceFields({ draft, set }: FieldProps<'service' | 'instance'>) {
  return (
    <>
      <label>
        Service
        <input value={draft.service ?? ''} onChange={(e) => set({ service: e.target.value })} placeholder="any" />
      </label>
      <label>
        Instance
        <input value={draft.instance ?? ''} onChange={(e) => set({ instance: e.target.value })} placeholder="any" />
      </label>
    </>
  );
}

/** The "From" and "To" times, in the browser's local time. */
export function TimeRangeFields({ draft, set }: FieldProps<'from' | 'to'>) {
  return (
    <>
      <label>
        From
        <input type="datetime-local" value={draft.from ?? ''} onChange={(e) => set({ from: e.target.value })} />
      </label>
      <label>
        To
        <input type="datetime-local" value={draft.to ?? ''} onChange={(e) => set({ to: e.target.value })} />
      </label>
    </>
  );
}
