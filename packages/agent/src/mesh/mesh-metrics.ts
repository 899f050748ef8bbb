import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MESH_RTT_BUCKETS } from './histogram-buckets.ts';
import type { EventLoopLag, ProbeResult } from './probe-types.ts';
import type { DropReason } from './transport.ts';

// canary-bot's metric names (`node_count`, `rtt{type,to}`) are kept so its dashboards keep working; the
// buckets start far below its 5 ms, and the rest of the names say they are the mesh's.

export interface MeshMetrics {
  registry: Registry;
  /** One probe's phases as `rtt{type=phase}`, plus canary-bot's rtt_request and (fresh connection) rtt_total. */
  observeProbe(result: ProbeResult): void;
  /** The probe worker's own event-loop delay (probes are timed there). */
  probeLag(lag: EventLoopLag): void;
  dropped(reason: DropReason): void;
  /** Forgets the series of a node gone from the mesh (`to` label), so cardinality follows the live mesh. */
  forget(to: string): void;
  text(): Promise<string>;
  stop(): void;
}

export function createMeshMetrics(options: { nodeCount: () => number }): MeshMetrics {
  const registry = new Registry();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  new Gauge({
    name: 'node_count',
    help: 'Nodes this node knows in the mesh, not counting itself',
    registers: [registry],
    collect() {
      this.set(options.nodeCount());
    },
  });
  const rtt = new Histogram({
    name: 'rtt',
    help: "This node's probe round trips in seconds, by type (rtt_total, rtt_request, dns, connect, tls, request) and peer",
    labelNames: ['type', 'to'],
    buckets: [...MESH_RTT_BUCKETS],
    registers: [registry],
  });
  new Gauge({
    name: 'mesh_event_loop_lag_seconds',
    help: "The node's main event-loop delay since the last scrape (p99 and max); probes are timed off this loop",
    labelNames: ['quantile'],
    registers: [registry],
    collect() {
      this.set({ quantile: '0.99' }, loop.percentile(99) / 1e9);
      this.set({ quantile: '1' }, loop.max / 1e9);
      loop.reset();
    },
  });
  const probeLag = new Gauge({
    name: 'mesh_probe_loop_lag_seconds',
    help: "The probe worker's event-loop delay over its last report interval (p99 and max)",
    labelNames: ['quantile'],
    registers: [registry],
  });
  const stalled = new Counter({
    name: 'mesh_probes_stalled_total',
    help: 'Probes taken while the probe worker stalled: left out of the rtt histogram, their timing is not trusted',
    registers: [registry],
  });
  const drops = new Counter({
    name: 'mesh_messages_dropped_total',
    help: 'Mesh messages dropped: malformed, too_large, unauthorized (received), send_overflow, send_failed (sent)',
    labelNames: ['reason'],
    registers: [registry],
  });
  return {
    registry,
    observeProbe: (result) => {
      if (result.stalled) return stalled.inc();
      let total = 0;
      for (const sample of result.samples) {
        if (!sample.ok || sample.seconds === undefined) return;
        rtt.observe({ type: sample.phase, to: result.peer }, sample.seconds);
        total += sample.seconds;
        if (sample.phase === 'request') rtt.observe({ type: 'rtt_request', to: result.peer }, sample.seconds);
      }
      if (result.samples.some((s) => s.phase === 'connect')) rtt.observe({ type: 'rtt_total', to: result.peer }, total);
    },
    probeLag: (lag) => {
      probeLag.set({ quantile: '0.99' }, lag.p99Ms / 1000);
      probeLag.set({ quantile: '1' }, lag.maxMs / 1000);
    },
    dropped: (reason) => drops.inc({ reason }),
    forget: (to) => {
      for (const type of ['rtt_total', 'rtt_request', 'dns', 'connect', 'tls', 'request']) rtt.remove({ type, to });
    },
    text: () => registry.metrics(),
    stop: () => loop.disable(),
  };
}
