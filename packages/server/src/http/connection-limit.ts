import { readFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';

/**
 * Connections the kernel may queue before they are accepted (it caps this at net.core.somaxconn).
 * Node's 511 overflows when thousands of agents reconnect during a busy second, and each dropped
 * SYN costs its client a one-second retransmit.
 */
export const LISTEN_BACKLOG = 8192;

/** The process's soft limit on open files, from /proc (Linux); undefined where it cannot be read. */
export function openFileLimit(
  read: () => string = () => readFileSync('/proc/self/limits', 'utf8'),
): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(read());
    if (!m || m[1] === 'unlimited') return undefined;
    return Number(m[1]);
  } catch {
    return undefined;
  }
}

/**
 * How many client connections one listener may hold so that the process never runs out of
 * descriptors: a share is kept for the store and files, and `reservedPerListener` for what each
 * listener opens besides its clients (a check-in thread's pass-through sockets to the main thread).
 */
export function connectionBudget(fileLimit: number, listeners: number, reservedPerListener = 0): number {
  const reserve = Math.max(128, Math.min(1024, Math.floor(fileLimit * 0.025)));
  const count = Math.max(1, listeners);
  return Math.max(16, Math.floor((fileLimit - reserve - count * reservedPerListener) / count));
}

const refusedBody = (limit: number) =>
  JSON.stringify({
    error: {
      code: 'overloaded',
      message: `the server holds as many connections as it can (${limit}); try again shortly`,
    },
  });

/**
 * Caps a listener's open connections: one over the cap is answered `503` with `Retry-After` and
 * closed at once (under a flood, closed without an answer), so the connections already open, admins included, keep being served instead of
 * every thread spinning on a failing accept when descriptors run out.
 */
export function limitConnections(server: Server, limit: number, onRefused?: () => void): void {
  let open = 0;
  // Answering costs each refused connection its descriptor for a moment; under a flood beyond this
  // many at once, they are closed without an answer, so the process stays within its limit.
  const answering = Math.max(8, Math.floor(limit / 20));
  let refusing = 0;
  const body = refusedBody(limit);
  const answer =
    'HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n' +
    `Retry-After: 10\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  server.prependListener('connection', (socket: Socket) => {
    if (open >= limit) {
      onRefused?.();
      if (refusing >= answering) {
        socket.destroy();
        return;
      }
      refusing++;
      socket.once('close', () => {
        refusing--;
      });
      // The answer goes out before the request is read; a client that sends one first still gets it.
      socket.end(answer);
      socket.setTimeout(250, () => socket.destroy());
      socket.once('error', () => socket.destroy());
      return;
    }
    open++;
    socket.once('close', () => {
      open--;
    });
  });
}
