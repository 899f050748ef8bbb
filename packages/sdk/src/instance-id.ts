/** Where an instance id is kept between runs; either method may be synchronous or async. */
export interface InstanceIdStorage {
  get(): string | null | undefined | Promise<string | null | undefined>;
  set(id: string): void | Promise<void>;
}

/**
 * Returns the stored instance id, or creates a random UUID and stores it. The id lets a server count
 * unique instances; it carries nothing about the machine or its owner.
 */
export async function loadOrCreateInstanceId(storage: InstanceIdStorage): Promise<string> {
  const stored = await storage.get();
  if (typeof stored === 'string' && stored.trim() !== '') return stored.trim();
  const id = randomUuid();
  await storage.set(id);
  return id;
}

/** Keeps the id in `localStorage`, `sessionStorage` or anything with the same two methods. */
export function webStorageInstanceIdStorage(
  storage: { getItem(key: string): string | null; setItem(key: string, value: string): void },
  key = 'flotilla.instanceId',
): InstanceIdStorage {
  return {
    get: () => storage.getItem(key),
    set: (id) => storage.setItem(key, id),
  };
}

/** A version 4 UUID; browsers offer randomUUID only on secure origins, getRandomValues everywhere. */
export function randomUuid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
