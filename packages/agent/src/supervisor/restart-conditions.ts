import { clockTicksPerSecond, readGroupUsage } from './proc-stats.ts';

export type ConditionReason = 'memory' | 'cpu';

export interface UsageSample {
  atMs: number;
  rssBytes: number;
  cpuTicks: number;
}

/**
 * Decides from periodic usage samples whether a service must be restarted: memory above `maxMemoryMB`
 * on a sample, or CPU (percent of one core, as `top` shows it) above `percents` for `durationSec`.
 */
export class ConditionTracker {
  readonly #maxMemoryMB: number | undefined;
  readonly #maxCpu: { percents: number; durationSec: number } | undefined;
  #last: UsageSample | null = null;
  #cpuHighSince: number | null = null;
  /** CPU percent between the last two samples (null before the second one). */
  lastCpuPercent: number | null = null;

  constructor(limits: { maxMemoryMB?: number; maxCpu?: { percents: number; durationSec: number } }) {
    this.#maxMemoryMB = limits.maxMemoryMB;
    this.#maxCpu = limits.maxCpu;
  }

  get active(): boolean {
    return this.#maxMemoryMB !== undefined || this.#maxCpu !== undefined;
  }

  evaluate(sample: UsageSample): ConditionReason | null {
    const previous = this.#last;
    this.#last = sample;
    if (this.#maxMemoryMB !== undefined && sample.rssBytes > this.#maxMemoryMB * 1024 * 1024) return 'memory';
    if (!previous || sample.atMs <= previous.atMs) return null;
    // A member that exited takes its CPU time with it: never count a negative delta.
    const ticks = Math.max(0, sample.cpuTicks - previous.cpuTicks);
    const percent = ((ticks / clockTicksPerSecond) * 1000 * 100) / (sample.atMs - previous.atMs);
    this.lastCpuPercent = percent;
    if (!this.#maxCpu) return null;
    if (percent <= this.#maxCpu.percents) {
      this.#cpuHighSince = null;
      return null;
    }
    this.#cpuHighSince ??= previous.atMs;
    return sample.atMs - this.#cpuHighSince >= this.#maxCpu.durationSec * 1000 ? 'cpu' : null;
  }
}

/**
 * Samples a process group every `intervalMs` and calls `onBreach` with a readable message when a limit
 * is passed (until `skip()` holds). Returns the timer to clear, or null when no limit is set.
 */
export function watchConditions(
  pgid: number,
  limits: { maxMemoryMB?: number; maxCpu?: { percents: number; durationSec: number } },
  intervalMs: number,
  skip: () => boolean,
  onBreach: (reason: ConditionReason, message: string) => void,
): NodeJS.Timeout | null {
  const tracker = new ConditionTracker(limits);
  if (!tracker.active) return null;
  const timer = setInterval(() => {
    if (skip()) return;
    const usage = readGroupUsage(pgid);
    if (usage.pids.length === 0) return;
    const reason = tracker.evaluate({ atMs: Date.now(), rssBytes: usage.rssBytes, cpuTicks: usage.cpuTicks });
    if (!reason) return;
    onBreach(
      reason,
      reason === 'memory'
        ? `memory ${Math.round(usage.rssBytes / 1048576)} MB above ${limits.maxMemoryMB} MB`
        : `CPU above ${limits.maxCpu?.percents}% for ${limits.maxCpu?.durationSec} s`,
    );
  }, intervalMs);
  timer.unref();
  return timer;
}
