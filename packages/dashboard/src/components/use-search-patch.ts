import { useSearchParams } from 'react-router';

export type SearchPatch = Record<string, string | null>;

/** The URL's query, and a function that changes some of its keys; null or '' removes a key. */
export function useSearchPatch(): [URLSearchParams, (next: SearchPatch) => void] {
  const [params, setParams] = useSearchParams();
  function go(next: SearchPatch) {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(next)) v === null || v === '' ? p.delete(k) : p.set(k, v);
    setParams(p);
  }
  return [params, go];
}
