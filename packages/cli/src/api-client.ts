import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** A failure the CLI reports as one line on stderr with a non-zero exit. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
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
      throw new CliError(
        `cannot reach ${this.#login.server}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`,
      );
    }
    const text = await res.text();
    const data = text ? safeJson(text) : undefined;
    if (!res.ok) {
      const message =
        (data as { error?: { message?: string } } | undefined)?.error?.message ?? (text || res.statusText);
      throw new CliError(`${method} ${path}: ${res.status} ${message}`);
    }
    return data as T;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
