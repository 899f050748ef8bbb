/** Exponential backoff with jitter: between half and all of base·2^attempt, capped. */
export function backoffDelay(attempt: number, baseMs: number, capMs = 60_000): number {
  const full = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(full / 2 + Math.random() * (full / 2));
}

/** Resolves after `ms`, or early (without error) once `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
