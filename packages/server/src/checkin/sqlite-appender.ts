import { Worker } from 'node:worker_threads';
import type { PendingCheckin } from './store.ts';

export interface BatchAppender {
  append(batch: PendingCheckin[]): Promise<void>;
  close(): Promise<void>;
}

/** Sends batches to the SQLite append worker and resolves each once it is committed. */
export function startSqliteAppender(location: string): BatchAppender {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const worker = new Worker(new URL(`./append-worker.${ext}`, import.meta.url), { workerData: { location } });
  const waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  let nextId = 0;
  let exited: Error | null = null;
  worker.on('message', (msg: { id: number; error?: string }) => {
    const w = waiting.get(msg.id);
    waiting.delete(msg.id);
    if (msg.error) w?.reject(new Error(msg.error));
    else w?.resolve();
  });
  const failAll = (err: Error) => {
    exited = err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  worker.on('error', (err) => failAll(err));
  worker.on('exit', () => failAll(exited ?? new Error('the SQLite append worker stopped')));
  return {
    append(batch) {
      if (exited) return Promise.reject(exited);
      return new Promise((resolve, reject) => {
        const id = nextId++;
        waiting.set(id, { resolve, reject });
        worker.postMessage({ id, batch });
      });
    },
    async close() {
      if (exited) return;
      const done = new Promise((r) => worker.once('exit', r));
      worker.postMessage({ close: true });
      await done;
    },
  };
}
