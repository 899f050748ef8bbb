import type { Logger } from 'pino';
import { NotFound } from '../errors.ts';
import { errorAnswer, type ThreadRoutes } from '../http/thread-routes.ts';
import type { RouteAnswer, ToMain, ToThread } from './messages.ts';

/**
 * The main thread's side of the polls one check-in thread parks: each is answered by its route when
 * ready, the answers of one event-loop turn in one message; a client that left aborts its wait.
 */
export function createMainPolls(routes: ThreadRoutes | undefined, send: (message: ToThread) => void, logger: Logger) {
  const waits = new Map<number, AbortController>();
  let ids: number[] = [];
  let answers: RouteAnswer[] = [];
  const flush = () => {
    send({ type: 'poll-answers', ids, answers });
    ids = [];
    answers = [];
  };
  const reply = (id: number, answer: RouteAnswer) => {
    if (!waits.delete(id)) return;
    if (ids.length === 0) setImmediate(flush);
    ids.push(id);
    answers.push(answer);
  };

  return {
    take(message: Extract<ToMain, { type: 'polls' }>): void {
      for (const [i, id] of message.ids.entries()) {
        const gone = new AbortController();
        waits.set(id, gone);
        const path = message.paths[i] as string;
        const route = routes?.getPoll(path);
        const answer = route
          ? route.handle(
              message.authorizations[i] as string,
              message.queries[i] as string,
              message.etags[i] as string,
              gone.signal,
            )
          : Promise.resolve(errorAnswer(new NotFound(`no route GET ${path}`), logger));
        answer.then(
          (a) => reply(id, a),
          (err: unknown) => reply(id, errorAnswer(err, logger)),
        );
      }
    },

    cancel(message: Extract<ToMain, { type: 'poll-cancel' }>): void {
      for (const id of message.ids) {
        waits.get(id)?.abort();
        waits.delete(id);
      }
    },

    /** The thread is gone: its clients are too, so every wait ends. */
    dropAll(): void {
      for (const gone of waits.values()) gone.abort();
      waits.clear();
    },
  };
}
