import type { Server } from 'node:http';

/**
 * Stops taking connections and waits for `close` while in-flight requests finish: connections that
 * turn idle meanwhile are closed as they do, and any still open after `graceMs` are cut.
 */
export async function closeGracefully(server: Server, graceMs: number, close: () => Promise<void>): Promise<void> {
  const idle = setInterval(() => server.closeIdleConnections(), 50);
  const force = setTimeout(() => server.closeAllConnections(), graceMs);
  try {
    await close();
  } finally {
    clearInterval(idle);
    clearTimeout(force);
  }
}
