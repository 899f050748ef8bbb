import autocannon from 'autocannon';
import type { LoadOptions, LoadResult } from './workload.ts';

/** Drives the load from this process (portable, but it spends a core of its own on the work). */
export async function runAutocannon(opts: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.durationSeconds,
    // autocannon serialises each entry once and cycles through them on every connection.
    requests: opts.requests.map((r) => ({
      method: 'POST' as const,
      headers: { 'content-type': 'application/json', 'x-forwarded-for': r.forwardedFor },
      body: r.body,
    })),
  });
  return {
    generator: 'autocannon',
    acknowledged: result['2xx'],
    errors: result.errors + result.non2xx + result.timeouts,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
  };
}
