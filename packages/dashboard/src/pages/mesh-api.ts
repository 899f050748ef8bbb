import type { MeshEnvironmentList, MeshNode, MeshPair, MeshPairSeries, MeshPhase, MeshView } from '@flotilla/protocol';
import { request, withQuery } from '../api/client.ts';

/** Pairs the page asks for: a full matrix of 50 nodes; the URL's `limit` changes it. */
export const defaultPairLimit = 2500;
/** Nodes the heatmap draws at most (rows and columns alike); the pair list below it has every pair asked for. */
export const maxGridNodes = 80;

export const meshWindows = ['15m', '1h', '6h', '24h'] as const;
export const meshPhaseChoices: { value: MeshPhase; label: string }[] = [
  { value: 'request', label: 'request (kept-alive connection)' },
  { value: 'connect', label: 'TCP connect' },
  { value: 'tls', label: 'TLS handshake' },
  { value: 'dns', label: 'DNS' },
];
export type MeshColour = 'p50' | 'loss';

const enc = encodeURIComponent;

export const meshApi = {
  environments: () => request<MeshEnvironmentList>('GET', '/api/v1/mesh/environments'),
  view: (q: { environment: string; window: string; phase: MeshPhase; limit: number }) =>
    request<MeshView>('GET', withQuery('/api/v1/mesh', q)),
  pair: (q: { environment: string; from: string; to: string; window: string }) =>
    request<MeshPairSeries>('GET', withQuery('/api/v1/mesh/pairs', q)),
};

/** The command that switches the mesh on for `environment` (admins only; audited). */
export const enableCommand = (environment: string) =>
  `curl -X PUT -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\\n` +
  `  -d '{"enabled": true}' ${location.origin}/api/v1/mesh/environments/${enc(environment)}`;

/** A round trip in seconds as people read it: `0.42 ms`, `4.2 ms`, `42 ms`, `1.2 s`. */
export function formatRtt(seconds: number | null | undefined): string {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '—';
  const ms = seconds * 1000;
  if (ms >= 1000) return `${(ms / 1000).toPrecision(2)} s`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/** A share as a percentage: `0 %`, `0.5 %`, `8 %`, `100 %`. */
export function formatLoss(share: number): string {
  const pct = share * 100;
  if (pct === 0 || pct >= 10) return `${Math.round(pct)} %`;
  return `${pct.toPrecision(1)} %`;
}

/** One colour step of the heatmap: the class it paints with and the words the legend gives it. */
export interface Step {
  level: number;
  label: string;
}

/** p50 steps, upper bounds in ms; a pair with no successful probe is its own step. */
const rttBounds = [0.25, 0.5, 1, 2, 5, 20];
/** Loss steps, upper bounds as shares (exclusive); 100 % lost is the last step. */
const lossBounds = [0.000001, 0.01, 0.05, 0.2, 0.5, 1];

export const legendSteps = (colour: MeshColour): Step[] =>
  colour === 'p50'
    ? [
        ...rttBounds.map((b, i) => ({ level: i, label: i === 0 ? `< ${b} ms` : `${rttBounds[i - 1]}–${b} ms` })),
        { level: rttBounds.length, label: `≥ ${rttBounds.at(-1)} ms` },
        { level: rttBounds.length + 1, label: 'every probe failed' },
      ]
    : ['no loss', 'under 1 %', '1–5 %', '5–20 %', '20–50 %', '50–99 %', 'every probe failed'].map((label, level) => ({
        level,
        label,
      }));

/** The colour step of a pair (0 lightest, 7 darkest). */
export function stepOf(pair: Pick<MeshPair, 'p50' | 'loss'>, colour: MeshColour): number {
  if (colour === 'p50') {
    if (pair.p50 === null) return rttBounds.length + 1;
    const ms = pair.p50 * 1000;
    const i = rttBounds.findIndex((b) => ms < b);
    return i === -1 ? rttBounds.length : i;
  }
  const i = lossBounds.findIndex((b) => pair.loss < b);
  return i === -1 ? lossBounds.length : i;
}

/** The few characters a cell shows: p50 in ms, or loss in percent. */
export function cellText(pair: Pick<MeshPair, 'p50' | 'loss'>, colour: MeshColour): string {
  if (colour === 'loss') return pair.loss === 0 ? '0' : `${Math.max(1, Math.round(pair.loss * 100))}%`;
  if (pair.p50 === null) return '✕';
  const ms = pair.p50 * 1000;
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)}s`;
  return ms >= 10 ? String(Math.round(ms)) : ms.toFixed(1);
}

/** A pair in words, the cell's text equivalent: it starts with what the cell shows, so both name the same value. */
export function pairText(from: string, to: string, pair: MeshPair | undefined, colour: MeshColour = 'p50'): string {
  if (!pair) return `${from} to ${to}: no measurements in the window`;
  const probes = `${pair.count} probe${pair.count === 1 ? '' : 's'}`;
  const shown = cellText(pair, colour);
  const rtt = pair.p50 === null ? 'every probe failed' : `p50 ${formatRtt(pair.p50)}, p99 ${formatRtt(pair.p99)}`;
  if (colour === 'loss') return `${from} to ${to}: loss ${shown} of ${probes}, ${rtt}`;
  if (pair.p50 === null) return `${from} to ${to}: every probe failed, loss 100 % of ${probes}`;
  const p50 = shown.endsWith('s') ? shown : `${shown} ms`;
  return `${from} to ${to}: p50 ${p50}, p99 ${formatRtt(pair.p99)}, loss ${formatLoss(pair.loss)} of ${probes}`;
}

export interface Matrix {
  /** Rows and columns alike, grouped by partition (dead and unknown nodes last), then by name. */
  nodes: string[];
  /** Where a new partition starts in `nodes`, by index, and its number (1-based). */
  groupStarts: Map<number, number>;
  pairs: Map<string, MeshPair>;
  /** Nodes left out of the grid (more than `maxGridNodes`). */
  cut: number;
}

export const pairKey = (from: string, to: string) => `${from}\u0000${to}`;

/**
 * The heatmap's rows and columns: every node that is not dead, and every node a listed pair names;
 * beyond `max`, the nodes of the slowest pairs come first.
 */
export function matrixOf(view: Pick<MeshView, 'nodes' | 'pairs' | 'partitions'>, max = maxGridNodes): Matrix {
  const byName = new Map<string, MeshNode>(view.nodes.map((n) => [n.instance, n]));
  const wanted: string[] = [];
  const seen = new Set<string>();
  const want = (name: string) => {
    if (!seen.has(name)) {
      seen.add(name);
      wanted.push(name);
    }
  };
  for (const p of view.pairs) {
    want(p.from);
    want(p.to);
  }
  for (const n of view.nodes) if (n.state !== 'dead') want(n.instance);
  const kept = wanted.slice(0, max);
  const partition = (name: string) => {
    const p = byName.get(name)?.partition ?? -1;
    return p < 0 ? Number.MAX_SAFE_INTEGER : p;
  };
  kept.sort((a, b) => partition(a) - partition(b) || a.localeCompare(b));
  const groupStarts = new Map<number, number>();
  if (view.partitions.length > 1) {
    kept.forEach((name, i) => {
      const p = partition(name);
      if (p !== Number.MAX_SAFE_INTEGER && (i === 0 || partition(kept[i - 1] as string) !== p))
        groupStarts.set(i, p + 1);
    });
  }
  return {
    nodes: kept,
    groupStarts,
    pairs: new Map(view.pairs.map((p) => [pairKey(p.from, p.to), p])),
    cut: wanted.length - kept.length,
  };
}

/** How a node is doing, in words: its state, and why it is flagged. */
export function stateText(node: Pick<MeshNode, 'state' | 'flagged'>): string {
  return node.flagged ? `${node.state}, flagged` : node.state;
}

/** The pair history's window: at least an hour, else the page's. */
export const historyWindow = (window: string) => (window === '15m' ? '1h' : window);
