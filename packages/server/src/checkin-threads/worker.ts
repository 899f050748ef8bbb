// Entry of a check-in thread; see front.ts.
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { startFront } from './front.ts';
import type { ThreadInit } from './messages.ts';

if (!parentPort) throw new Error('worker.ts runs as a worker thread');
// Under full load the main thread, which commits every check-in, must not wait behind socket work:
// this thread yields to it (about 4 % more check-ins/s, measured). Only Linux sets nice per thread.
if (process.platform === 'linux') {
  try {
    setPriority(0, Math.min(19, getPriority(0) + 5));
  } catch {
    // A sandbox that refuses it only loses that margin.
  }
}
startFront(workerData as ThreadInit, parentPort);
