// A service's stdout and stderr go to append-mode files in its log directory (not pipes), so they
// outlive the agent; this reads them into the log capture and records how far they were read.
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileTail } from '../logs/file-tail.ts';
import type { LineSplitter } from '../logs/line-splitter.ts';
import type { LineOrigin, LogCapture } from '../logs/log-capture.ts';

export type Offsets = { stdout: number; stderr: number };
const streams = ['stdout', 'stderr'] as const;

/** The two files a process is started with: their descriptors (close after spawning) and sizes. */
export function openOutputFiles(logDir: string): { fds: [number, number]; starts: Offsets } {
  mkdirSync(logDir, { recursive: true });
  const fds: number[] = [];
  try {
    for (const stream of streams) fds.push(openSync(join(logDir, `live.${stream}`), 'a'));
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw err;
  }
  const size = (stream: 'stdout' | 'stderr') => statSync(join(logDir, `live.${stream}`)).size;
  return { fds: fds as [number, number], starts: { stdout: size('stdout'), stderr: size('stderr') } };
}

/** Follows one process's output files until `end()` (it exited) or `release()` (another agent takes over). */
export class OutputFollower {
  readonly #tails: FileTail[] = [];
  readonly #splitters: LineSplitter[] = [];
  #checkpoint: NodeJS.Timeout | null = null;

  constructor(
    logDir: string,
    capture: LogCapture,
    origin: LineOrigin,
    from: Offsets | 'end',
    onCheckpoint: (offsets: Offsets) => void,
    onError: (message: string) => void,
  ) {
    for (const stream of streams) {
      const splitter = capture.splitter(stream, origin);
      const tail = new FileTail(join(logDir, `live.${stream}`), (chunk) => splitter.write(chunk));
      try {
        tail.start(from === 'end' ? 'end' : from[stream]);
      } catch (err) {
        onError(`cannot read ${stream}: ${(err as Error).message}`);
      }
      this.#splitters.push(splitter);
      this.#tails.push(tail);
    }
    // At most a second of output is read twice after a crash of the agent; none is skipped.
    let recorded = '';
    this.#checkpoint = setInterval(() => {
      const offsets = this.offsets();
      const key = `${offsets.stdout}:${offsets.stderr}`;
      if (key === recorded) return;
      recorded = key;
      onCheckpoint(offsets);
    }, 1000);
    this.#checkpoint.unref();
  }

  offsets(): Offsets {
    return { stdout: this.#tails[0]?.offset ?? 0, stderr: this.#tails[1]?.offset ?? 0 };
  }

  /** The process exited: read the rest (it is all in the files) and flush partial lines. */
  end(): void {
    this.#stopReading();
    for (const splitter of this.#splitters) splitter.end();
  }

  /** Stops reading, keeping partial lines unread for whoever reads on from `offsets()`. */
  release(): Offsets {
    this.#stopReading();
    return this.offsets();
  }

  #stopReading(): void {
    if (this.#checkpoint) clearInterval(this.#checkpoint);
    this.#checkpoint = null;
    for (const tail of this.#tails) tail.stop();
  }
}
