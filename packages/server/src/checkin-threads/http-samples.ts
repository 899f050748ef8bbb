import type { HttpSample } from './messages.ts';

/** Request durations gathered on a check-in thread and sent to the main thread's metrics each second. */
export class HttpSamples {
  #byKey = new Map<string, { route: string; status: number; durations: number[] }>();

  add(route: string, status: number, seconds: number): void {
    const key = `${status} ${route}`;
    let entry = this.#byKey.get(key);
    if (!entry) {
      entry = { route, status, durations: [] };
      this.#byKey.set(key, entry);
    }
    entry.durations.push(seconds);
  }

  drain(): HttpSample[] {
    const out: HttpSample[] = [];
    for (const entry of this.#byKey.values()) {
      if (entry.durations.length === 0) continue;
      out.push({ route: entry.route, status: entry.status, durations: Float64Array.from(entry.durations) });
      entry.durations = [];
    }
    return out;
  }
}
