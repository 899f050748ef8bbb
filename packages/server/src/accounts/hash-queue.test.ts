import { describe, expect, it } from 'vitest';
import { HashQueue, HashQueueFull } from './hash-queue.ts';

/** A task that runs until released, counting how many run at once. */
function gate() {
  const state = { running: 0, most: 0, started: 0 };
  const releases: (() => void)[] = [];
  const task = () => {
    state.started++;
    state.running++;
    state.most = Math.max(state.most, state.running);
    return new Promise<string>((resolve) =>
      releases.push(() => {
        state.running--;
        resolve('done');
      }),
    );
  };
  return { state, task, releaseOne: () => releases.shift()?.() };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('password hash queue', () => {
  it('logins with random user names cannot take more than K hash threads or make an unbounded line', async () => {
    const queue = new HashQueue({ concurrency: 2, maxWaiting: 3 });
    const { state, task, releaseOne } = gate();
    const runs = Array.from({ length: 20 }, () =>
      queue.run(task).then(
        (v) => v,
        (err: unknown) => err,
      ),
    );
    await tick();
    // 2 run, 3 wait, and the other 15 were refused at once without running.
    expect(state.started).toBe(2);
    expect(queue.running).toBe(2);
    expect(queue.waiting).toBe(3);
    for (let i = 0; i < 5; i++) {
      releaseOne();
      await tick();
    }
    const results = await Promise.all(runs);
    expect(results.filter((r) => r === 'done')).toHaveLength(5);
    const refused = results.filter((r) => r instanceof HashQueueFull) as HashQueueFull[];
    expect(refused).toHaveLength(15);
    expect(refused[0]?.code).toBe('rate_limited');
    expect(Number(refused[0]?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(state.most).toBe(2);
    expect(state.started).toBe(5);
    expect(queue.running).toBe(0);
    expect(queue.waiting).toBe(0);
  });

  it('puts a known user first and never refuses them, however full the line of made-up names', async () => {
    const queue = new HashQueue({ concurrency: 1, maxWaiting: 2 });
    const { task, releaseOne } = gate();
    const order: string[] = [];
    const run = (name: string, first = false) => queue.run(task, first).then(() => order.push(name));
    const flood = [run('random1'), run('random2'), run('random3')];
    await expect(queue.run(task)).rejects.toBeInstanceOf(HashQueueFull);
    const known = run('alice', true);
    await tick();
    expect(queue.waiting).toBe(3);
    for (let i = 0; i < 4; i++) {
      releaseOne();
      await tick();
    }
    await Promise.all([...flood, known]);
    expect(order).toEqual(['random1', 'alice', 'random2', 'random3']);
  });

  it('hands a slot on when a hash fails, and takes new work once there is room', async () => {
    const queue = new HashQueue({ concurrency: 1, maxWaiting: 1 });
    const first = queue.run(() => Promise.reject(new Error('scrypt failed')));
    const second = queue.run(async () => 'second');
    await expect(queue.run(async () => 'third')).rejects.toBeInstanceOf(HashQueueFull);
    await expect(first).rejects.toThrow('scrypt failed');
    await expect(second).resolves.toBe('second');
    expect(queue.running).toBe(0);
    await expect(queue.run(async () => 'fourth')).resolves.toBe('fourth');
  });
});
