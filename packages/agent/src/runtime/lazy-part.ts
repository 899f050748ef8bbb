/** Something the agent starts and must stop before it exits. */
export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * A part of the agent whose code is imported only when it is first needed (the mesh node, host
 * drift), so an agent that never uses it never loads it. Started at most once, never after the agent
 * began stopping; a part that fails to load is reported and left out.
 */
export interface LazyPart<T extends Stoppable> {
  /** `load` imports the part's modules and answers how to start it. Later calls do nothing. */
  start(load: () => Promise<() => T>): void;
  /** The running part; null while it loads, or when it failed or never started. */
  current(): T | null;
  /** Waits for a load under way, then stops the part. */
  stop(): Promise<void>;
}

export function lazyPart<T extends Stoppable>(stopping: AbortSignal, onError: (err: Error) => void): LazyPart<T> {
  let part: T | null = null;
  let loading: Promise<void> | null = null;
  return {
    start(load) {
      loading ??= load()
        .then((make) => {
          if (!stopping.aborted) part = make();
        })
        .catch(onError);
    },
    current: () => part,
    async stop() {
      await loading;
      await part?.stop();
    },
  };
}
