// Sends the agent's state report: at most one request in flight, bursts of changes coalesced into
// one report, and a report asked for during a send followed by exactly one more.
import type { AgentStateReport } from '@flotilla/protocol';
import type { AgentApi } from './api.ts';

export class StateReporter {
  readonly #api: AgentApi;
  readonly #build: () => AgentStateReport;
  readonly #onError: (err: unknown) => void;
  readonly #coalesceMs: number;
  #sending: Promise<void> | null = null;
  #again = false;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(api: AgentApi, build: () => AgentStateReport, onError: (err: unknown) => void, coalesceMs = 100) {
    this.#api = api;
    this.#build = build;
    this.#onError = onError;
    this.#coalesceMs = coalesceMs;
  }

  /** Reports soon, once for a burst of changes (a transaction changes state several times). */
  schedule(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.send();
    }, this.#coalesceMs);
  }

  /** Reports now; a failure is logged, not thrown (the next change or heartbeat tries again). */
  send(): Promise<void> {
    if (this.#sending) {
      this.#again = true;
      return this.#sending;
    }
    this.#sending = (async () => {
      do {
        this.#again = false;
        try {
          await this.#api.reportState(this.#build(), AbortSignal.timeout(15_000));
        } catch (err) {
          this.#onError(err);
          break;
        }
      } while (this.#again);
    })().finally(() => {
      this.#sending = null;
    });
    return this.#sending;
  }

  /** Stops scheduled reports and sends a last one, bounded by `graceMs`. */
  async close(graceMs = 3000): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#sending;
    try {
      await this.#api.reportState(this.#build(), AbortSignal.timeout(graceMs));
    } catch {}
  }
}
