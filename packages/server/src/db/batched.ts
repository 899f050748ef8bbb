/**
 * Runs the work of concurrent requests together: the first item runs at once, alone; items that
 * arrive while a run is in flight wait for it and then run as one batch (up to `maxItems`). At low
 * load nothing waits; under load a few statements carry many requests. A failed batch is run again
 * item by item, so one bad item fails only its own request.
 */
export function batched<T, R>(run: (items: T[]) => Promise<R[]>, maxItems = 500): (item: T) => Promise<R> {
  interface Waiting {
    item: T;
    resolve: (result: R) => void;
    reject: (err: unknown) => void;
  }
  let queue: Waiting[] = [];
  let running = false;

  const settle = async (batch: Waiting[]) => {
    try {
      const results = await run(batch.map((w) => w.item));
      for (const [i, w] of batch.entries()) w.resolve(results[i] as R);
    } catch (err) {
      if (batch.length === 1) {
        batch[0]?.reject(err);
        return;
      }
      for (const w of batch) await settle([w]);
    }
  };

  const drain = async () => {
    running = true;
    while (queue.length > 0) {
      const batch = queue.slice(0, maxItems);
      queue = queue.slice(batch.length);
      await settle(batch);
    }
    running = false;
  };

  return (item) =>
    new Promise<R>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!running) void drain();
    });
}
