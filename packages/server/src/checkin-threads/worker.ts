// Entry of a check-in thread; see front.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { startFront } from './front.ts';
import type { ThreadInit } from './messages.ts';

if (!parentPort) throw new Error('worker.ts runs as a worker thread');
startFront(workerData as ThreadInit, parentPort);
