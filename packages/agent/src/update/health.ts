// The health gate: a freshly started version must stay up for the startup window and pass its probe.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { isAbsolute, join } from 'node:path';
import type { InstallManifest } from '@flotilla/protocol';
import { httpRequest } from '../runtime/http-request.ts';
import type { ServiceSupervisor } from '../supervisor/types.ts';
import { expand, type Macros } from './commands.ts';

type Health = NonNullable<InstallManifest['health']>;

export interface GateResult {
  ok: boolean;
  /** What was wrong, in words (`healthy` when ok). */
  reason: string;
  /** The process ran, but its health check did not pass (the reason is the check's last answer). */
  check?: boolean;
}

/** Why a request or connection failed, e.g. `ECONNREFUSED` or `no answer within 5 s`. */
function failureOf(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; code?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.code === 'ETIMEDOUT') return `no answer within ${timeoutMs / 1000} s`;
  return e.cause?.code ?? e.code ?? e.cause?.message ?? e.message ?? String(err);
}

/** One probe attempt; resolves null when healthy, else what the check found, in words. */
export async function probeOnce(
  health: Health,
  versionDir: string,
  macros: Macros,
  timeoutMs: number,
): Promise<string | null> {
  if (health.http) {
    const url = expand(health.http.url, macros);
    const expected = health.http.expectStatus ?? 200;
    try {
      // Redirects are followed, as a browser (and fetch) would.
      const res = await httpRequest(url, { timeoutMs, maxRedirects: 20 });
      res.discard();
      return res.status === expected ? null : `GET ${url} answered ${res.status}, not ${expected}`;
    } catch (err) {
      return `GET ${url}: ${failureOf(err, timeoutMs)}`;
    }
  }
  if (health.tcp) {
    const port = health.tcp.port;
    return new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      const done = (problem: string | null) => {
        socket.destroy();
        resolve(problem);
      };
      socket.setTimeout(timeoutMs, () => done(`no connection to port ${port} within ${timeoutMs / 1000} s`));
      socket.once('connect', () => done(null));
      socket.once('error', (err) => done(`cannot connect to port ${port}: ${failureOf(err, timeoutMs)}`));
    });
  }
  if (health.command) {
    const cmd = health.command;
    const command = expand(cmd.command, macros);
    return new Promise((resolve) => {
      const child = spawn(
        command,
        (cmd.args ?? []).map((a) => expand(a, macros)),
        { cwd: versionDir, stdio: 'ignore', timeout: timeoutMs, killSignal: 'SIGKILL' },
      );
      child.once('error', (err) => resolve(`health command ${command}: ${failureOf(err, timeoutMs)}`));
      child.once('close', (code, signal) =>
        resolve(code === 0 ? null : `health command ${command} exited with ${code ?? signal}`),
      );
    });
  }
  if (health.statusFile) {
    // Same idea as BindPlane's package_statuses.json: the service writes its own verdict.
    const p = expand(health.statusFile.path, macros);
    let text: string;
    try {
      text = readFileSync(isAbsolute(p) ? p : join(versionDir, p), 'utf8');
    } catch {
      return `no status file ${p}`;
    }
    try {
      const status = JSON.parse(text) as { status?: unknown; healthy?: unknown };
      return status.status === 'ok' || status.healthy === true ? null : `status file ${p} says ${text.slice(0, 200)}`;
    } catch {
      return `status file ${p} is not JSON`;
    }
  }
  return null;
}

/** How a process ended, e.g. `exited with code 3` or `was killed by signal SIGKILL`. */
function endOf(code: number | null, signal: string | null): string {
  if (signal) return `was killed by signal ${signal}`;
  return code === null ? 'exited' : `exited with code ${code}`;
}

/**
 * Passes when the process has not exited during `startupWindowSec` (default 30) and the probe succeeds
 * at the end of it (retried every `intervalMs` for up to `timeoutSec` more). Fails at the first exit.
 */
export async function healthGate(options: {
  supervisor: ServiceSupervisor;
  manifest: InstallManifest;
  versionDir: string;
  macros: Macros;
  /** Poll interval (default 200 ms). */
  intervalMs?: number;
}): Promise<GateResult> {
  const { supervisor, manifest, versionDir, macros } = options;
  const health = manifest.health ?? {};
  const windowMs = (health.startupWindowSec ?? 30) * 1000;
  const timeoutMs = (health.timeoutSec ?? 5) * 1000;
  const interval = options.intervalMs ?? 200;
  const start = Date.now();
  // The supervisor's own words for the failure (`exited with code 3`, `cannot start …`, a restart condition).
  const failure = (code: number | null, signal: string | null) => {
    const said = supervisor.status().lastError ?? endOf(code, signal);
    return `${said} ${Date.now() - start < windowMs ? 'during the startup window' : 'before its health check passed'}`;
  };
  let exited: string | null = null;
  const off = supervisor.onExit((e) => {
    if (!e.expected) exited ??= failure(e.code, e.signal);
  });
  try {
    let problem: string | null = null;
    while (true) {
      if (exited) return { ok: false, reason: exited };
      const st = supervisor.status();
      if (st.failureCount > 0) return { ok: false, reason: failure(st.lastExitCode, st.lastSignal) };
      if (st.state === 'failed' || st.state === 'stopped') return { ok: false, reason: `the process is ${st.state}` };
      const elapsed = Date.now() - start;
      if (elapsed >= windowMs) {
        problem = await probeOnce(health, versionDir, macros, timeoutMs);
        if (problem === null && !exited && supervisor.status().state === 'running')
          return { ok: true, reason: 'healthy' };
        if (elapsed >= windowMs + timeoutMs) {
          if (exited) return { ok: false, reason: exited };
          return problem === null
            ? { ok: false, reason: `not running at the end of the health check (${supervisor.status().state})` }
            : { ok: false, reason: problem, check: true };
        }
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  } finally {
    off();
  }
}
