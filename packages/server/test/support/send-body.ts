import { connect } from 'node:net';

export interface BodyAnswer {
  status: number;
  body: { error?: { code: string; message: string } };
  /** Bytes of the body written before the answer began to arrive. */
  sentBeforeAnswer: number;
}

/** The body of an HTTP/1.1 answer framed by Content-Length or chunked; undefined while incomplete. */
function bodyOf(head: string, rest: Buffer): Buffer | undefined {
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length) return rest.length >= Number(length[1]) ? rest.subarray(0, Number(length[1])) : undefined;
  if (!/\r\ntransfer-encoding:\s*chunked/i.test(head)) return undefined;
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = rest.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = Number.parseInt(rest.subarray(at, eol).toString('latin1'), 16);
    if (size === 0) return Buffer.concat(parts);
    if (rest.length < eol + 2 + size + 2) return undefined;
    parts.push(rest.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/**
 * Sends a request over a raw socket, its `body` (declared whole in Content-Length) in `chunk`-byte
 * pieces `delayMs` apart, and resolves with the answer as it arrives on the wire; writing stops once
 * it begins. A connection reset or close before a whole answer resolves with status 0 and the
 * error's code (clients take that as a failure to retry).
 */
export function sendBody(
  url: string,
  method: string,
  path: string,
  body: Buffer,
  opts: { headers?: Record<string, string>; chunk?: number; delayMs?: number; stopAfter?: number } = {},
): Promise<BodyAnswer> {
  const { chunk = 256 * 1024, delayMs = 0, stopAfter = body.length } = opts;
  const { hostname, port } = new URL(url);
  const headers: Record<string, string | number> = {
    host: `${hostname}:${port}`,
    'content-type': 'application/json',
    'content-length': body.length,
    ...opts.headers,
  };
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let sent = 0;
    let answerStarted = -1;
    let received = Buffer.alloc(0);
    let settled = false;
    const settle = (answer: BodyAnswer) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(answer);
    };
    const failed = (code: string) =>
      settle({ status: 0, body: { error: { code, message: code } }, sentBeforeAnswer: sent });
    socket.on('data', (data: Buffer) => {
      if (answerStarted < 0) answerStarted = sent;
      received = Buffer.concat([received, data]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = received.subarray(0, end).toString('latin1');
      const content = bodyOf(head, received.subarray(end + 4));
      if (content === undefined) return;
      const text = content.toString('utf8');
      settle({
        status: Number(head.split(' ')[1]),
        body: text ? JSON.parse(text) : {},
        sentBeforeAnswer: answerStarted,
      });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => failed(err.code ?? 'error'));
    socket.on('close', () => failed('closed before a whole answer'));
    const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
    socket.write(`${method} ${path} HTTP/1.1\r\n${head.join('')}\r\n`);
    const next = () => {
      if (answerStarted >= 0 || settled || sent >= stopAfter) return;
      const piece = body.subarray(sent, Math.min(sent + chunk, stopAfter));
      sent += piece.length;
      socket.write(piece, () => setTimeout(next, delayMs));
    };
    next();
  });
}
