import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** A failure the CLI reports as one line on stderr with a non-zero exit. */
export class CliError extends Error {
  readonly exitCode: number;
  /** The request that failed, `METHOD /path → status`, shown with --verbose. */
  readonly detail: string | undefined;
  constructor(message: string, exitCode = 1, detail?: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.detail = detail;
  }
}

/** A non-2xx answer as a CliError: the server's message in words; method, path and status for --verbose. */
export function apiError(method: string, path: string, status: number, statusText: string, text: string): CliError {
  let message = text || statusText;
  try {
    message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
  } catch {
    // Not JSON: keep the text.
  }
  return new CliError(message, 1, `${method} ${path} → ${status}`);
}

/** A failed connection, with the cause the network layer gives. */
export function unreachable(server: string, err: unknown): CliError {
  const e = err as Error & { cause?: Error };
  return new CliError(`cannot reach ${server}: ${e.cause?.message ?? e.message}`);
}

export interface Login {
  server: string;
  token: string;
}

export function loginFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'flotilla', 'login.json');
}

export function saveLogin(login: Login, env: NodeJS.ProcessEnv = process.env): string {
  const file = loginFile(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/** The server and credential: `--server`/`--token`, else FLOTILLA_SERVER/FLOTILLA_TOKEN, else the saved login. */
export function resolveLogin(flags: { server?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): Login {
  let saved: Partial<Login> = {};
  try {
    saved = JSON.parse(readFileSync(loginFile(env), 'utf8')) as Partial<Login>;
  } catch {
    // No saved login: flags or env must say it.
  }
  const server = flags.server ?? env.FLOTILLA_SERVER ?? saved.server;
  const token = flags.token ?? env.FLOTILLA_TOKEN ?? saved.token;
  if (!server) throw new CliError('no server: pass --server URL, set FLOTILLA_SERVER, or run `flotilla login`', 2);
  if (!token) throw new CliError('no credential: pass --token, set FLOTILLA_TOKEN, or run `flotilla login`', 2);
  return { server: server.replace(/\/$/, ''), token };
}

/** Calls the server's API; a non-2xx answer becomes a CliError carrying the server's message. */
export class ApiClient {
  readonly #login: Login;
  constructor(login: Login) {
    this.#login = login;
  }

  async request<T>(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#login.token}` };
    if (body !== undefined && !(body instanceof ReadableStream)) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.#login.server}${path}`, {
        method,
        headers: { ...headers, ...(init.headers as Record<string, string> | undefined) },
        body: body === undefined ? undefined : body instanceof ReadableStream ? body : JSON.stringify(body),
        ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
        signal: init.signal,
      } as RequestInit);
    } catch (err) {
      throw unreachable(this.#login.server, err);
    }
    const text = await res.text();
    if (!res.ok) throw apiError(method, path, res.status, res.statusText, text);
    return (text ? safeJson(text) : undefined) as T;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
