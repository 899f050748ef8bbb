import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { EventLoopLag } from './probe-types.ts';

// The prober's loop watches itself. monitorEventLoopDelay gives the reported figures; while probes
// are in flight a fine ticker records when the loop stalled, so a probe that overlapped a stall is
// flagged, not trusted. Between probes nothing ticks but the coarse monitor (wake-ups cost CPU).

export interface LagMonitor {
  /** A probe starts: the fine ticker runs while any probe is in flight. */
  begin(): void;
  /** The probe that began ends: whether the loop stalled beyond the threshold between these hrtime stamps (ns). */
  end(startNs: bigint, endNs: bigint): boolean;
  /** Figures since the last report, then starts a new interval. */
  report(): EventLoopLag;
  stop(): void;
}

export interface LagMonitorOptions {
  thresholdMs: number;
  /** Fine ticker period; a gap longer than period + threshold is a stall. Default 10 ms. */
  tickMs?: number;
  /** monitorEventLoopDelay's sampling period. Default 50 ms. */
  resolutionMs?: number;
  /** Stall intervals remembered (older ones cannot overlap a probe still being judged). */
  keep?: number;
}

export function startLagMonitor(options: LagMonitorOptions): LagMonitor {
  const tickMs = options.tickMs ?? 10;
  const resolutionMs = options.resolutionMs ?? 50;
  const keep = options.keep ?? 64;
  const limitNs = BigInt(Math.round((tickMs + options.thresholdMs) * 1e6));
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  const stalls: Array<[bigint, bigint]> = [];
  let stallsInInterval = 0;
  let active = 0;
  let ticker: NodeJS.Timeout | undefined;
  let lastTick = process.hrtime.bigint();

  const check = () => {
    const now = process.hrtime.bigint();
    if (now - lastTick > limitNs) {
      stalls.push([lastTick, now]);
      stallsInInterval++;
      if (stalls.length > keep) stalls.shift();
    }
    lastTick = now;
  };

  return {
    begin() {
      if (active++ > 0) return;
      lastTick = process.hrtime.bigint();
      ticker = setInterval(check, tickMs);
    },
    end(startNs, endNs) {
      check();
      if (active > 0 && --active === 0) {
        clearInterval(ticker);
        ticker = undefined;
      }
      return stalls.some(([from, to]) => from < endNs && to > startNs);
    },
    report() {
      // The histogram records whole timer periods; the delay is what exceeds the period.
      const toMs = (ns: number) =>
        Number.isFinite(ns) ? Math.max(0, Math.round(ns / 1e3 - resolutionMs * 1e3) / 1e3) : 0;
      const lag: EventLoopLag = {
        at: Date.now(),
        meanMs: histogram.count > 0 ? toMs(histogram.mean) : 0,
        p50Ms: histogram.count > 0 ? toMs(histogram.percentile(50)) : 0,
        p99Ms: histogram.count > 0 ? toMs(histogram.percentile(99)) : 0,
        maxMs: histogram.count > 0 ? toMs(histogram.max) : 0,
        stalls: stallsInInterval,
      };
      histogram.reset();
      stallsInInterval = 0;
      return lag;
    },
    stop() {
      clearInterval(ticker);
      ticker = undefined;
      histogram.disable();
    },
  };
}
