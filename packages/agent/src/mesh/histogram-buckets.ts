// Bucket bounds for round-trip histograms (prom-client `buckets`). LAN round trips are tens of
// microseconds to a few milliseconds, so the first bucket sits far below 1 ms (default buckets start at 5 ms).

/** Lowest bound in seconds: 50 µs. */
export const MESH_RTT_BUCKET_START = 50e-6;
/** Number of bounds: 50 µs · 2^0 … 50 µs · 2^19 ≈ 26.2 s. */
export const MESH_RTT_BUCKET_COUNT = 20;

/** Upper bounds in seconds, powers of 2 from 50 µs to about 26.2 s (20 buckets, as smokeping_prober's). */
export const MESH_RTT_BUCKETS: readonly number[] = Object.freeze(
  Array.from({ length: MESH_RTT_BUCKET_COUNT }, (_, i) => Number((MESH_RTT_BUCKET_START * 2 ** i).toPrecision(6))),
);
