import { appendFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../server/test/support/temp-dir.ts';
import { FileTail } from './file-tail.ts';

let dir: string;
let tails: FileTail[];
beforeEach(() => {
  dir = makeTempDir('flotilla-tail-');
  tails = [];
});
afterEach(() => {
  for (const tail of tails) tail.stop();
  rmSync(dir, { recursive: true, force: true });
});

function follow(file: string, onChunk: (chunk: Buffer) => void, opts: ConstructorParameters<typeof FileTail>[2]) {
  const tail = new FileTail(file, onChunk, opts);
  tails.push(tail);
  return tail;
}

/** Appends `text` and resolves with how long it took until the tail delivered it. */
function delivery(file: string, text: string, chunks: string[]): Promise<number> {
  return new Promise((resolve) => {
    const seen = chunks.join('').length;
    const began = performance.now();
    appendFileSync(file, text);
    const check = () => {
      if (chunks.join('').length >= seen + text.length) resolve(performance.now() - began);
      else setImmediate(check);
    };
    check();
  });
}

describe('FileTail', () => {
  it('reads what is appended after its start, and empties the file once it is large and read', () => {
    const file = join(dir, 'live.stdout');
    writeFileSync(file, 'before start\n');
    const chunks: string[] = [];
    const tail = follow(file, (c) => chunks.push(c.toString()), {
      truncateAboveBytes: 64,
      watch: false,
      pollMs: 60_000,
    });
    tail.start('end');
    appendFileSync(file, 'one\ntwo\n');
    tail.drain();
    expect(chunks.join('')).toBe('one\ntwo\n');
    appendFileSync(file, `${'x'.repeat(80)}\n`);
    tail.drain();
    expect(statSync(file).size).toBe(0);
    expect(tail.offset).toBe(0);
    appendFileSync(file, 'after truncation\n');
    tail.stop();
    expect(chunks.join('')).toBe(`one\ntwo\n${'x'.repeat(80)}\nafter truncation\n`);
  });

  it('reads a large backlog in chunks through one reused buffer, losing nothing', () => {
    const file = join(dir, 'live.stdout');
    const text = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'y'.repeat(i % 80)}\n`).join('');
    writeFileSync(file, text);
    const chunks: string[] = [];
    const stores = new Set<ArrayBufferLike>();
    const tail = follow(
      file,
      (c) => {
        chunks.push(c.toString());
        stores.add(c.buffer);
      },
      { watch: false, pollMs: 60_000 },
    );
    tail.start(0);
    tail.drain();
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.join('')).toBe(text);
    expect(stores.size).toBe(1);
  });

  it.runIf(process.platform === 'linux')('delivers each write as it lands, not at the next poll', async () => {
    const file = join(dir, 'live.stdout');
    writeFileSync(file, '');
    const chunks: string[] = [];
    // Polling once a minute: only the file system's change events can deliver within the bound,
    // which leaves room for a busy machine.
    const tail = follow(file, (c) => chunks.push(c.toString()), { watchedPollMs: 60_000, pollMs: 60_000 });
    tail.start('end');
    expect(tail.watching).toBe(true);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) delays.push(await delivery(file, `line ${i}\n`, chunks));
    expect(chunks.join('')).toBe('line 0\nline 1\nline 2\nline 3\nline 4\n');
    delays.sort((a, b) => a - b);
    expect(delays[2]).toBeLessThan(1000);
  });

  it('polls when it does not watch, and reads what was written before the first poll', async () => {
    const file = join(dir, 'live.stderr');
    writeFileSync(file, 'old\n');
    const chunks: string[] = [];
    const tail = follow(file, (c) => chunks.push(c.toString()), { watch: false, pollMs: 20 });
    tail.start(0);
    expect(tail.watching).toBe(false);
    appendFileSync(file, 'new\n');
    const waited = await delivery(file, 'newer\n', chunks);
    expect(waited).toBeLessThan(10_000);
    expect(chunks.join('')).toBe('old\nnew\nnewer\n');
  });
});
