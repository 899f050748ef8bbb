import type { ClusterBus, ClusterNotice, NoticeHandler } from './bus.ts';

export interface FakeBus extends ClusterBus {
  /** Signals "notices may have been missed since `since`", as a reconnect does. */
  resync(since: number): void;
  /** Stops carrying notices to the peers (they are lost, as on a dropped connection). */
  cut: boolean;
}

/** Buses joined in this process: each delivers to its own handlers as local, to the others' as remote. */
export function joinedBuses(count: number): FakeBus[] {
  const buses: FakeBus[] = [];
  for (let i = 0; i < count; i++) {
    const handlers = new Map<string, Set<NoticeHandler>>();
    const resyncs = new Set<(since: number) => void>();
    const deliver = (notice: ClusterNotice, local: boolean) => {
      for (const handler of [...(handlers.get(notice.kind) ?? [])]) handler(notice, local);
    };
    const bus: FakeBus & { deliver: typeof deliver } = {
      cut: false,
      deliver,
      publish(notice) {
        deliver(notice, true);
        if (bus.cut) return;
        for (const other of buses) if (other !== bus) (other as typeof bus).deliver(structuredClone(notice), false);
      },
      subscribe(kind, handler) {
        const set = handlers.get(kind) ?? new Set();
        handlers.set(kind, set);
        set.add(handler);
        return () => set.delete(handler);
      },
      onResync(listener) {
        resyncs.add(listener);
        return () => resyncs.delete(listener);
      },
      resync(since) {
        for (const listener of [...resyncs]) listener(since);
      },
      connected: true,
      close: async () => {},
    };
    buses.push(bus);
  }
  return buses;
}
