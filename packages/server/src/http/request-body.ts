import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';

/** How long the rest of a refused body may keep arriving before its connection is cut. */
export const lingerMs = 10_000;

/**
 * Reads and discards the rest of a request answered before its body arrived (401, 413, …), so the
 * client reads the answer: closing a socket with unread input resets it, and the answer is lost
 * (behind check-in threads it became a 503). A body still arriving after `ms` is cut off.
 */
export function drainThenClose(raw: IncomingMessage, ms = lingerMs): void {
  if (raw.complete || raw.destroyed) return;
  // Requests made with inject() carry a stand-in socket that cannot be destroyed: end the request then.
  const cut = () => (typeof raw.socket?.destroy === 'function' ? raw.socket.destroy() : raw.destroy());
  const timer = setTimeout(cut, ms);
  timer.unref();
  const done = () => clearTimeout(timer);
  raw.once('end', done);
  raw.once('close', done);
  raw.resume();
}

/**
 * The request body as a stream of its own, for routes that stream uploads: a reader that gives up
 * mid-body (too large, bad archive) destroys this stream, not the request, whose rest is drained as
 * above. Destroying the request itself would leave its connection open and unread until a timeout.
 * A client that goes away still fails the stream.
 */
export function detachedBody(raw: IncomingMessage): PassThrough {
  const body = new PassThrough();
  raw.pipe(body);
  raw.once('error', (err) => body.destroy(err));
  raw.once('close', () => {
    if (!raw.complete) body.destroy(new Error('the client went away before the body was complete'));
  });
  body.once('close', () => {
    if (raw.complete || raw.destroyed) return;
    raw.unpipe(body);
    drainThenClose(raw);
  });
  return body;
}
