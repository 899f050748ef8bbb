import { describe, expect, it } from 'vitest';
import {
  type InstanceIdStorage,
  loadOrCreateInstanceId,
  randomUuid,
  webStorageInstanceIdStorage,
} from './instance-id.ts';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function memoryStorage(initial: string | null = null) {
  const writes: string[] = [];
  let value = initial;
  const storage: InstanceIdStorage = {
    get: async () => value,
    set: async (id) => {
      writes.push(id);
      value = id;
    },
  };
  return { storage, writes };
}

describe('loadOrCreateInstanceId', () => {
  it('creates, stores and then reuses a random UUID', async () => {
    const { storage, writes } = memoryStorage();
    const first = await loadOrCreateInstanceId(storage);
    expect(first).toMatch(UUID_V4);
    expect(await loadOrCreateInstanceId(storage)).toBe(first);
    expect(writes).toEqual([first]);
  });

  it('keeps an existing id, trimmed, and replaces a blank one', async () => {
    expect(await loadOrCreateInstanceId(memoryStorage(' existing-id\n').storage)).toBe('existing-id');
    const blank = memoryStorage('  ');
    expect(await loadOrCreateInstanceId(blank.storage)).toMatch(UUID_V4);
    expect(blank.writes).toHaveLength(1);
  });

  it('works with synchronous storage such as localStorage', async () => {
    const items = new Map<string, string>();
    const webStorage = { getItem: (key: string) => items.get(key) ?? null, setItem: items.set.bind(items) };
    const id = await loadOrCreateInstanceId(webStorageInstanceIdStorage(webStorage));
    expect(items.get('flotilla.instanceId')).toBe(id);
    expect(await loadOrCreateInstanceId(webStorageInstanceIdStorage(webStorage))).toBe(id);
  });
});

describe('randomUuid', () => {
  it('builds version 4 UUIDs from getRandomValues when randomUUID is missing', () => {
    const original = crypto.randomUUID;
    Object.defineProperty(crypto, 'randomUUID', { value: undefined, configurable: true });
    try {
      const ids = new Set(Array.from({ length: 50 }, () => randomUuid()));
      expect(ids.size).toBe(50);
      for (const id of ids) expect(id).toMatch(UUID_V4);
    } finally {
      Object.defineProperty(crypto, 'randomUUID', { value: original, configurable: true });
    }
    expect(randomUuid()).toMatch(UUID_V4);
  });
});
