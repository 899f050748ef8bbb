import type { Coordinate } from './contracts.ts';

// Vivaldi network coordinates (Dabek et al., SIGCOMM 2004) with the height model and the constants of
// Serf's coordinate package: a node moves its own coordinate after each measured round trip, so the
// distance between two coordinates estimates the round trip of a pair nobody measured.

export interface VivaldiConfig {
  dimensionality: number;
  /** Error of a fresh coordinate, and the cap. */
  errorMax: number;
  /** CE: how much one sample moves the error estimate; CC: how much it moves the coordinate. */
  ce: number;
  cc: number;
  /** Seconds. */
  heightMin: number;
  /** Median of the last N samples per peer damps one-off spikes. */
  latencyFilterSize: number;
  /** Pull towards the origin so the whole system does not drift (seconds). */
  gravityRho: number;
  /** Round trips above this (seconds) are refused as measurement errors. */
  maxRtt: number;
}

export const SERF_VIVALDI_CONFIG: VivaldiConfig = {
  dimensionality: 8,
  errorMax: 1.5,
  ce: 0.25,
  cc: 0.25,
  heightMin: 10e-6,
  latencyFilterSize: 3,
  gravityRho: 150,
  maxRtt: 10,
};

const ZERO = 1e-6;
/** Largest coordinate component or height accepted from a peer, seconds. */
const MAX_COMPONENT = 100;

export function newCoordinate(config: VivaldiConfig = SERF_VIVALDI_CONFIG): Coordinate {
  return { vec: new Array(config.dimensionality).fill(0), height: config.heightMin, error: config.errorMax };
}

/** Whether `c` is a usable coordinate of this dimensionality (peers' coordinates are untrusted input). */
export function isValidCoordinate(c: unknown, dimensionality = SERF_VIVALDI_CONFIG.dimensionality): c is Coordinate {
  if (!c || typeof c !== 'object') return false;
  const { vec, height, error } = c as Partial<Coordinate>;
  const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && Math.abs(x) <= MAX_COMPONENT;
  return (
    Array.isArray(vec) &&
    vec.length === dimensionality &&
    vec.every(finite) &&
    finite(height) &&
    (height as number) >= 0 &&
    finite(error) &&
    (error as number) >= 0
  );
}

function magnitude(v: number[]): number {
  let sum = 0;
  for (const x of v) sum += x * x;
  return Math.sqrt(sum);
}

/** Estimated round trip between two coordinates, seconds: ‖a − b‖ + ha + hb. */
export function estimate(a: Coordinate, b: Coordinate): number {
  return magnitude(a.vec.map((x, i) => x - (b.vec[i] ?? 0))) + a.height + b.height;
}

function applyForce(config: VivaldiConfig, c: Coordinate, force: number, other: Coordinate, random: () => number) {
  const diff = c.vec.map((x, i) => x - (other.vec[i] ?? 0));
  let mag = magnitude(diff);
  let unit: number[];
  if (mag > ZERO) unit = diff.map((x) => x / mag);
  else {
    // Same place: push in a random direction, and leave the height alone.
    const r = diff.map(() => random() - 0.5);
    const m = magnitude(r);
    unit = m > ZERO ? r.map((x) => x / m) : diff.map((_, i) => (i === 0 ? 1 : 0));
    mag = 0;
  }
  const vec = c.vec.map((x, i) => x + (unit[i] as number) * force);
  let height = c.height;
  if (mag > ZERO) height = Math.max(((c.height + other.height) * force) / mag + c.height, config.heightMin);
  return { vec, height, error: c.error };
}

export interface VivaldiNode {
  /** This node's coordinate (a copy). */
  coordinate(): Coordinate;
  /** Feeds a measured round trip (seconds) to `peer` at coordinate `theirs`; false when refused. */
  observe(peer: string, rttSeconds: number, theirs: Coordinate): boolean;
  /** Drops a departed peer's filter samples. */
  forget(peer: string): void;
}

/** A node's coordinate, updated as in Serf's client (latency filter, Vivaldi step, gravity). */
export function createVivaldi(
  options: { config?: Partial<VivaldiConfig>; start?: Coordinate; random?: () => number } = {},
): VivaldiNode {
  const config = { ...SERF_VIVALDI_CONFIG, ...options.config };
  const random = options.random ?? Math.random;
  const origin = newCoordinate(config);
  let coord =
    options.start && isValidCoordinate(options.start, config.dimensionality)
      ? clone(options.start)
      : newCoordinate(config);
  const filters = new Map<string, number[]>();

  function filtered(peer: string, rtt: number): number {
    const samples = [...(filters.get(peer) ?? []), rtt].slice(-config.latencyFilterSize);
    filters.set(peer, samples);
    const sorted = [...samples].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] as number;
  }

  return {
    coordinate: () => clone(coord),
    observe(peer, rttSeconds, theirs) {
      if (!isValidCoordinate(theirs, config.dimensionality)) return false;
      if (!Number.isFinite(rttSeconds) || rttSeconds <= 0 || rttSeconds > config.maxRtt) return false;
      const rtt = Math.max(filtered(peer, rttSeconds), ZERO);
      const dist = estimate(coord, theirs);
      const wrongness = Math.abs(dist - rtt) / rtt;
      const weight = coord.error / Math.max(coord.error + theirs.error, ZERO);
      const error = Math.min(config.ce * weight * wrongness + coord.error * (1 - config.ce * weight), config.errorMax);
      coord = applyForce(config, { ...coord, error }, config.cc * weight * (rtt - dist), theirs, random);
      const fromOrigin = estimate(origin, coord);
      coord = applyForce(config, coord, -((fromOrigin / config.gravityRho) ** 2), origin, random);
      if (!isValidCoordinate(coord, config.dimensionality)) coord = newCoordinate(config);
      return true;
    },
    forget(peer) {
      filters.delete(peer);
    },
  };
}

function clone(c: Coordinate): Coordinate {
  return { vec: [...c.vec], height: c.height, error: c.error };
}

export interface SlowPair {
  from: string;
  to: string;
  measured: number;
  estimated: number;
  /** measured / estimated. */
  ratio: number;
}

/**
 * Pairs whose measured round trip is far above what the coordinates predict: at least `factor` times
 * the estimate and `minExcess` seconds more (so sub-millisecond noise on a LAN is not flagged).
 */
export function slowPairs(
  measured: Iterable<{ from: string; to: string; rtt: number }>,
  coordinates: ReadonlyMap<string, Coordinate>,
  options: { factor?: number; minExcess?: number } = {},
): SlowPair[] {
  const factor = options.factor ?? 2;
  const minExcess = options.minExcess ?? 0.005;
  const flagged: SlowPair[] = [];
  for (const { from, to, rtt } of measured) {
    const a = coordinates.get(from);
    const b = coordinates.get(to);
    if (!a || !b || !Number.isFinite(rtt)) continue;
    const estimated = estimate(a, b);
    if (rtt >= factor * estimated && rtt - estimated >= minExcess) {
      flagged.push({
        from,
        to,
        measured: rtt,
        estimated,
        ratio: estimated > 0 ? rtt / estimated : Number.POSITIVE_INFINITY,
      });
    }
  }
  return flagged.sort((x, y) => y.ratio - x.ratio);
}
