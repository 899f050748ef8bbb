// The health gate: a freshly started version must stay up for the startup window and pass its probe.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { isAbsolute, join } from 'node:path';
import type { InstallManifest } from '@flotilla/protocol';
import type { ServiceSupervisor } from '../supervisor/types.ts';
import { expand, type Macros } from './commands.ts';

type Health = NonNullable<InstallManifest['health']>;

export interface GateResult {
  ok: boolean;
  reason: string;
}

/** One probe attempt; resolves true when healthy. */
export async function probeOnce(
  health: Health,
  versionDir: string,
  macros: Macros,
  timeoutMs: number,
): Promise<boolean> {
  if (health.http) {
    try {
      const res = await fetch(expand(health.http.url, macros), { signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel();
      return res.status === (health.http.expectStatus ?? 200);
    } catch {
      return false;
    }
  }
  if (health.tcp) {
    const port = health.tcp.port;
    return new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(timeoutMs, () => done(false));
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
  }
  if (health.command) {
    const cmd = health.command;
    return new Promise((resolve) => {
      const child = spawn(
        expand(cmd.command, macros),
        (cmd.args ?? []).map((a) => expand(a, macros)),
        { cwd: versionDir, stdio: 'ignore', timeout: timeoutMs, killSignal: 'SIGKILL' },
      );
      child.once('error', () => resolve(false));
      child.once('close', (code) => resolve(code === 0));
    });
  }
  if (health.statusFile) {
    // Same idea as BindPlane's package_statuses.json: the service writes its own verdict.
    const p = expand(health.statusFile.path, macros);
    try {
      const status = JSON.parse(readFileSync(isAbsolute(p) ? p : join(versionDir, p), 'utf8')) as {
        status?: unknown;
        healthy?: unknown;
      };
      return status.status === 'ok' || status.healthy === true;
    } catch {
      return false;
    }
  }
  return true;
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
  let exited: string | null = null;
  const off = supervisor.onExit((e) => {
    if (!e.expected) exited ??= `process exited during the startup window (code ${e.code}, signal ${e.signal})`;
  });
  try {
    const start = Date.now();
    let probed = false;
    while (true) {
      if (exited) return { ok: false, reason: exited };
      const st = supervisor.status();
      if (st.failureCount > 0)
        return {
          ok: false,
          reason: `process exited during the startup window (exit ${st.lastExitCode ?? st.lastSignal})`,
        };
      if (st.state === 'failed' || st.state === 'stopped') return { ok: false, reason: `process is ${st.state}` };
      const elapsed = Date.now() - start;
      if (elapsed >= windowMs) {
        if (await probeOnce(health, versionDir, macros, timeoutMs)) {
          if (!exited && supervisor.status().state === 'running') return { ok: true, reason: 'healthy' };
        } else probed = true;
        if (elapsed >= windowMs + timeoutMs)
          return { ok: false, reason: probed ? 'health probe failed' : 'not healthy in time' };
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  } finally {
    off();
  }
}
