// Worker thread that commits check-in batches to SQLite. node:sqlite is synchronous, so running
// the commits (and their fsync) here keeps the HTTP thread free while a batch is written.
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../db/connection.ts';
import { appendBatch, type PendingCheckin } from './store.ts';

const database = openDatabase(workerData.location as string);
parentPort?.on('message', async (msg: { id: number; batch: PendingCheckin[] } | { close: true }) => {
  if ('close' in msg) {
    await database.close();
    parentPort?.close();
    return;
  }
  try {
    await appendBatch(database.db, msg.batch);
    parentPort?.postMessage({ id: msg.id });
  } catch (err) {
    parentPort?.postMessage({ id: msg.id, error: (err as Error).message });
  }
});
