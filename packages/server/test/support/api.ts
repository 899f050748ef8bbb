import { expect } from 'vitest';
import { adminToken } from './server.ts';

export interface ApiCallOptions {
  /** Bearer token; undefined means the admin token, null sends none. */
  token?: string | null;
  /** Sent as JSON (a string is sent as it is, to test malformed bodies). */
  body?: unknown;
  /** Sent as application/gzip. */
  raw?: Buffer;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  /** The parsed JSON body, when the answer is JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever the route answers
  body: any;
  bytes: Buffer;
}

/** One HTTP call to a test server, as the integration tests make them. */
export async function callApi(
  base: string,
  method: string,
  path: string,
  opts: ApiCallOptions = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token === undefined ? adminToken : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.raw !== undefined) headers['content-type'] = 'application/gzip';
  const body =
    opts.raw ??
    (opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
  const res = await fetch(`${base}${path}`, { method, headers, body, signal: opts.signal });
  const bytes = Buffer.from(await res.arrayBuffer());
  const json = res.headers.get('content-type')?.includes('json') && bytes.length > 0;
  return { status: res.status, headers: res.headers, body: json ? JSON.parse(bytes.toString()) : undefined, bytes };
}

/** `call` and `ok` (a call that must answer `status`, returning the body) against a server known later. */
export function apiOf(base: () => string) {
  const call = (method: string, path: string, opts: ApiCallOptions = {}) => callApi(base(), method, path, opts);
  const ok = async (method: string, path: string, body?: unknown, status = 200) => {
    const res = await call(method, path, { body });
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    return res.body;
  };
  return { call, ok };
}
