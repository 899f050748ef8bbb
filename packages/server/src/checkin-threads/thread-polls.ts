import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpSamples } from './http-samples.ts';
import type { RouteAnswer, ToMain, ToThread } from './messages.ts';

/**
 * The thread's side of parked long polls: the client's connection stays here and the request goes
 * to the main thread as a message, so a waiting agent costs one descriptor, not three (its socket
 * and both ends of a pass-through). Requests and cancellations go out once per event-loop turn.
 */
export function createThreadPolls(paths: readonly string[], post: (message: ToMain) => void, samples: HttpSamples) {
  const routes = new Set(paths);
  const open = new Map<number, (answer: RouteAnswer) => void>();
  let nextId = 0;
  let outgoing = emptyPolls();
  let cancelled: number[] = [];

  function emptyPolls() {
    return {
      ids: [] as number[],
      paths: [] as string[],
      authorizations: [] as string[],
      queries: [] as string[],
      etags: [] as string[],
    };
  }
  const flush = () => {
    if (outgoing.ids.length > 0) post({ type: 'polls', ...outgoing });
    if (cancelled.length > 0) post({ type: 'poll-cancel', ids: cancelled });
    outgoing = emptyPolls();
    cancelled = [];
  };
  const schedule = () => {
    if (outgoing.ids.length === 0 && cancelled.length === 0) setImmediate(flush);
  };

  return {
    /** The poll route `req` asks for, if it is one. */
    match(req: IncomingMessage): string | null {
      if (req.method !== 'GET' || routes.size === 0) return null;
      const path = (req.url ?? '').split('?')[0]?.replace(/\/$/, '') ?? '';
      return routes.has(path) ? path : null;
    },

    handle(req: IncomingMessage, res: ServerResponse, path: string): void {
      const started = performance.now();
      const id = ++nextId;
      const url = req.url ?? '';
      const at = url.indexOf('?');
      schedule();
      outgoing.ids.push(id);
      outgoing.paths.push(path);
      outgoing.authorizations.push(req.headers.authorization ?? '');
      outgoing.queries.push(at >= 0 ? url.slice(at + 1) : '');
      outgoing.etags.push(req.headers['if-none-match'] ?? '');
      open.set(id, (answer) => {
        const headers: Record<string, string> = { ...answer.headers };
        if (answer.status !== 304) {
          headers['content-type'] = 'application/json; charset=utf-8';
          headers['content-length'] = String(Buffer.byteLength(answer.body));
        }
        res.writeHead(answer.status, headers);
        res.end(answer.status === 304 ? undefined : answer.body);
        samples.add(path, answer.status, (performance.now() - started) / 1000);
      });
      res.once('close', () => {
        if (!open.delete(id)) return;
        schedule();
        cancelled.push(id);
      });
      req.resume();
    },

    onAnswers(message: Extract<ToThread, { type: 'poll-answers' }>): void {
      for (const [i, id] of message.ids.entries()) {
        const reply = open.get(id);
        open.delete(id);
        reply?.(message.answers[i] as RouteAnswer);
      }
    },

    get waiting(): number {
      return open.size;
    },
  };
}
