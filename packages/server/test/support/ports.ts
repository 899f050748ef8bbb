import { createServer } from 'node:net';

/** A loopback port that was free a moment ago (bind port 0, read the number, close). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no address');
  return address.port;
}
