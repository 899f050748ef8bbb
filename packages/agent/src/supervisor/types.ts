import type { LineOrigin } from '../logs/log-capture.ts';
import type { LogLine } from '../logs/log-line.ts';

/** How to run one version of a service: the install manifest's `run`, with macros already expanded. */
export interface RunSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Absolute; the version directory (or a directory inside it). */
  workingDir: string;
  /** The version this runs; its output lines carry it. */
  version?: string;
}

export type SupervisedState = 'stopped' | 'starting' | 'running' | 'backoff' | 'failed';

export interface SupervisorStatus {
  state: SupervisedState;
  pid: number | null;
  /** ISO time of the current process's start. */
  startedAt: string | null;
  /** Unexpected exits since the last `start()`. */
  failureCount: number;
  lastExitCode: number | null;
  lastSignal: string | null;
  /** Why the last unexpected exit happened (optional: added compatibly). */
  lastFaultReason?: FaultReason | null;
  /** A readable message for the last failure, e.g. a command that cannot be spawned. */
  lastError?: string | null;
}

/** `exit`: the service exited on its own; `spawn`: it could not be started; `memory`/`cpu`: a restart condition. */
export type FaultReason = 'exit' | 'spawn' | 'memory' | 'cpu';

export interface RestartPolicy {
  /** Restart after an unexpected exit (default true). */
  onFault: boolean;
  /** First restart delay; doubles per consecutive failure up to maxBackoffMs (a crash loop does not spin). */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Restart when resident memory stays above this (MiB). */
  maxMemoryMB?: number;
  /** Restart when CPU stays above `percents` for `durationSec`. */
  maxCpu?: { percents: number; durationSec: number };
  /** Stop with SIGQUIT (core dump) instead of SIGTERM when a condition forces a restart. */
  makeCore?: boolean;
  /** How often the conditions are checked (ms). */
  checkIntervalMs: number;
}

/**
 * Runs one service as a supervised child in its own process group, capturing stdout/stderr.
 * The update transaction (`update/`) uses only this interface.
 */
export interface ServiceSupervisor {
  /** Starts `spec` and keeps it running under `policy` until `stop()`. */
  start(spec: RunSpec, policy?: Partial<RestartPolicy>): void;
  /** SIGTERM to the process group, SIGKILL after `graceMs` (default 10 s); resolves once it has exited. */
  stop(graceMs?: number, signal?: NodeJS.Signals): Promise<void>;
  status(): SupervisorStatus;
  /** Called on every exit of the child, expected or not. Returns an unsubscribe function. */
  onExit(listener: (exit: { code: number | null; signal: string | null; expected: boolean }) => void): () => void;
  /** The last `n` captured output lines (for failure reports). */
  tail(n: number): string[];
}

export const defaultPolicy: RestartPolicy = {
  onFault: true,
  initialBackoffMs: 1000,
  maxBackoffMs: 60_000,
  checkIntervalMs: 5000,
};

export interface SupervisorLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface SupervisorOptions {
  name: string;
  logDir: string;
  logger?: SupervisorLogger;
  now?: () => number;
  /** Log file rotation (defaults 10 MB, 5 files). */
  maxFileSizeMB?: number;
  maxFilesCount?: number;
  /** Every captured line, parsed, with the process (and version) that wrote it; for the log uploader. */
  onLine?: (line: LogLine, origin: LineOrigin) => void;
  /** Uptime after which the backoff starts again from `initialBackoffMs` (default 60 s). */
  stableUptimeMs?: number;
  /** Grace between SIGTERM/SIGQUIT and SIGKILL when a restart condition fires (default 10 s). */
  conditionGraceMs?: number;
}

export interface BackoffEvent {
  delayMs: number;
  failureCount: number;
  reason: FaultReason;
}

export interface AgentSupervisor extends ServiceSupervisor {
  /** Called each time a restart is scheduled. Returns an unsubscribe function. */
  onBackoff(listener: (event: BackoffEvent) => void): () => void;
  /**
   * Takes over the process a previous agent left running (recorded in `<logDir>/process.json`), if
   * it is still alive and `owns(pid)` agrees; returns false otherwise.
   */
  adopt(spec: RunSpec, policy: Partial<RestartPolicy>, owns: (pid: number) => boolean): boolean;
  /** Lets go of the running process without stopping it, so the next agent can adopt it. */
  detach(): void;
}
