import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '@flotilla/protocol';
import { statusByCode } from '../errors.ts';

/** Why Node could not read a request, as the project's error code and words. */
function describe(err: NodeJS.ErrnoException): { code: ErrorCode; message: string } {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return { code: 'timeout', message: 'the request took too long to arrive' };
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return { code: 'headers_too_large', message: 'the request headers are larger than the limit' };
  }
  return { code: 'invalid', message: 'the request is not valid HTTP/1.1' };
}

/**
 * Answers a request that Node's parser refused before any route saw it, in the same
 * `{ "error": { code, message } }` body as every other error, then closes the connection.
 * Both the main thread's server and the check-in threads use it.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const { code, message } = describe(err);
  const status = statusByCode[code];
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
