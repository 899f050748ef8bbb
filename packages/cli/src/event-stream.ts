// Server-sent event streams the CLI follows (`flotilla logs --follow`, a build's log).
import { apiError, resolveLogin, unreachable } from './api-client.ts';
import type { ApiFlags } from './command-helpers.ts';

export interface SseFrame {
  event: string;
  data: string;
}

/** Splits complete server-sent-event frames off `buffer`; comments (`: …`) come back as event ':'. */
export function parseSse(buffer: string): { frames: SseFrame[]; rest: string } {
  const frames: SseFrame[] = [];
  const parts = buffer.replace(/\r\n/g, '\n').split('\n\n');
  const rest = parts.pop() ?? '';
  for (const part of parts) {
    if (!part) continue;
    let event = 'message';
    const data: string[] = [];
    for (const row of part.split('\n')) {
      if (row.startsWith(':')) event = ':';
      else if (row.startsWith('event:')) event = row.slice(6).trim();
      else if (row.startsWith('data:')) data.push(row.slice(5).replace(/^ /, ''));
    }
    frames.push({ event, data: data.join('\n') });
  }
  return { frames, rest };
}

/** Opens `path` (with its query) as an event stream with the CLI's login; an answer other than 2xx throws. */
export async function openEventStream(flags: ApiFlags, path: string): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  const login = resolveLogin(flags);
  let res: Response;
  try {
    res = await fetch(`${login.server}${path}`, {
      headers: { authorization: `Bearer ${login.token}`, accept: 'text/event-stream' },
    });
  } catch (err) {
    throw unreachable(login.server, err);
  }
  if (!res.ok || !res.body) throw apiError('GET', path, res.status, res.statusText, await res.text());
  return res.body.getReader();
}

/** The stream's frames as they arrive, until it ends (or `reader.cancel()` ends it). */
export async function* eventFrames(reader: ReadableStreamDefaultReader<Uint8Array>): AsyncGenerator<SseFrame> {
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    const parsed = parseSse(buffer);
    buffer = parsed.rest;
    yield* parsed.frames;
  }
}
