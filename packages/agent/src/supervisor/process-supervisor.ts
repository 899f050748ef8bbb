import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LogCapture } from '../logs/log-capture.ts';
import { leaderAlive, type ProcessFile, readProcessRecord, recordProcess } from './process-file.ts';
import { signalProcessGroup, terminateGroup } from './process-group.ts';
import { watchConditions } from './restart-conditions.ts';
import { serviceEnv } from './service-env.ts';
import { type Offsets, OutputFollower, openOutputFiles } from './service-output.ts';
import {
  type AgentSupervisor,
  type BackoffEvent,
  defaultPolicy,
  type FaultReason,
  type RestartPolicy,
  type RunSpec,
  type SupervisedState,
  type SupervisorOptions,
  type SupervisorStatus,
} from './types.ts';

export { serviceEnv } from './service-env.ts';
export {
  type AgentSupervisor,
  type BackoffEvent,
  defaultPolicy,
  type SupervisorLogger,
  type SupervisorOptions,
} from './types.ts';

type ExitInfo = { code: number | null; signal: string | null; expected: boolean };

interface Run {
  /** Null for a process adopted from an earlier agent (not this process's child). */
  proc: ChildProcess | null;
  pid: number | null;
  spawned: boolean;
  exited: boolean;
  output: OutputFollower | null;
  /** Liveness poll of an adopted process. */
  watch: NodeJS.Timeout | null;
}

export function createSupervisor(opts: SupervisorOptions): AgentSupervisor {
  const now = opts.now ?? Date.now;
  const log = opts.logger ?? { info() {}, warn() {}, error() {} };
  const stableUptimeMs = opts.stableUptimeMs ?? 60_000;
  const conditionGraceMs = opts.conditionGraceMs ?? 10_000;
  const capture = new LogCapture({
    name: opts.name,
    logDir: opts.logDir,
    maxFileSizeMB: opts.maxFileSizeMB,
    maxFilesCount: opts.maxFilesCount,
    onLine: opts.onLine,
    onError: (message) => log.warn(`${opts.name}: ${message}`),
    now,
  });
  const exitListeners = new Set<(exit: ExitInfo) => void>();
  const backoffListeners = new Set<(event: BackoffEvent) => void>();

  let state: SupervisedState = 'stopped';
  let spec: RunSpec | null = null;
  let policy: RestartPolicy = defaultPolicy;
  let run: Run | null = null;
  let startedAtMs: number | null = null;
  let failureCount = 0;
  let consecutive = 0;
  let lastExitCode: number | null = null;
  let lastSignal: string | null = null;
  let lastFaultReason: FaultReason | null = null;
  let lastError: string | null = null;
  let restartTimer: NodeJS.Timeout | null = null;
  let checkTimer: NodeJS.Timeout | null = null;
  let stopRequested = false;
  let stopping: Promise<void> | null = null;
  let conditionFault: FaultReason | null = null;

  function launch(): void {
    if (!spec) return;
    const current = spec;
    state = 'starting';
    startedAtMs = null;
    conditionFault = null;
    let proc: ChildProcess;
    // Output goes to files, not pipes: a service keeps running (and writing) if the agent dies.
    let files: ReturnType<typeof openOutputFiles> | null = null;
    try {
      files = openOutputFiles(opts.logDir);
      proc = spawn(current.command, current.args, {
        cwd: current.workingDir,
        env: serviceEnv(current.env),
        detached: true,
        stdio: ['ignore', files.fds[0], files.fds[1]],
      });
    } catch (err) {
      const message = spawnMessage(current, err as NodeJS.ErrnoException);
      queueMicrotask(() => onFailedSpawn(message));
      return;
    } finally {
      for (const fd of files?.fds ?? []) closeSync(fd);
    }
    // The pid is known synchronously when the fork worked, so a stop() right away can still signal the group.
    const self: Run = {
      proc,
      pid: proc.pid ?? null,
      spawned: false,
      exited: false,
      output: null,
      watch: null,
    };
    run = self;
    followOutput(self, current, files.starts);
    proc.once('spawn', () => {
      self.spawned = true;
      if (run !== self || self.exited || stopRequested) return;
      state = 'running';
      startedAtMs = now();
      if (self.pid !== null) writeProcessFile({ pid: self.pid, startedAt: new Date(startedAtMs).toISOString() });
      log.info(`${opts.name}: started pid ${self.pid}`);
      startChecks(self);
    });
    proc.on('error', (err: NodeJS.ErrnoException) => {
      if (!self.spawned && !self.exited) {
        self.exited = true;
        endOutput(self);
        onFailedSpawn(spawnMessage(current, err));
      } else {
        log.warn(`${opts.name}: ${err.message}`);
      }
    });
    proc.once('exit', (code, signal) => {
      if (self.exited) return;
      self.exited = true;
      endOutput(self);
      onExit(self, code, signal);
    });
  }

  /** A fresh supervision of `nextSpec`: counters and errors of the previous one are forgotten. */
  function begin(nextSpec: RunSpec, nextPolicy: Partial<RestartPolicy> = {}): void {
    spec = nextSpec;
    policy = { ...defaultPolicy, ...nextPolicy };
    failureCount = 0;
    consecutive = 0;
    lastFaultReason = null;
    lastError = null;
    stopRequested = false;
    conditionFault = null;
  }

  const processFile = join(opts.logDir, 'process.json');
  const writeProcessFile = (info: ProcessFile) =>
    recordProcess(processFile, info, (message) => log.warn(`${opts.name}: cannot record the process: ${message}`));
  const forgetProcess = () => rmSync(processFile, { force: true });

  function followOutput(self: Run, ran: RunSpec, from: Offsets | 'end'): void {
    self.output = new OutputFollower(
      opts.logDir,
      capture,
      { pid: self.pid, version: ran.version ?? null },
      from,
      (offsets) => {
        if (self.pid === null || self.exited || run !== self || startedAtMs === null) return;
        writeProcessFile({ pid: self.pid, startedAt: new Date(startedAtMs).toISOString(), offsets });
      },
      (message) => log.warn(`${opts.name}: ${message}`),
    );
  }

  /** Reads the last of the output (the process has exited, so it is all in the files). */
  function endOutput(self: Run): void {
    if (self.watch) clearInterval(self.watch);
    self.watch = null;
    self.output?.end();
    self.output = null;
  }

  function onFailedSpawn(message: string): void {
    run = null;
    lastError = message;
    log.error(`${opts.name}: ${message}`);
    fault('spawn', { code: null, signal: null, expected: false });
  }

  function onExit(self: Run, code: number | null, signal: string | null): void {
    stopChecks();
    if (run === self) run = null;
    forgetProcess();
    lastExitCode = code;
    lastSignal = signal;
    const info = { code, signal, expected: stopRequested };
    if (stopRequested) {
      emitExit(info);
      return; // stop() finishes the group and the state.
    }
    // The leader is gone: whatever it left in its group is orphaned service code.
    if (self.pid !== null) signalGroup(self.pid, 'SIGKILL');
    const reason = conditionFault ?? 'exit';
    const how = signal ? `signal ${signal}` : code === null ? 'an unknown status (adopted process)' : `code ${code}`;
    lastError = reason === 'exit' ? `exited with ${how}` : lastError;
    log.warn(`${opts.name}: pid ${self.pid} ${lastError}`);
    fault(reason, info);
  }

  function fault(reason: FaultReason, info: ExitInfo): void {
    failureCount++;
    lastFaultReason = reason;
    const uptime = startedAtMs === null ? 0 : now() - startedAtMs;
    if (uptime >= stableUptimeMs) consecutive = 0;
    consecutive++;
    emitExit(info);
    if (stopRequested || state === 'stopped') return; // a listener stopped us
    if (!policy.onFault) {
      state = 'failed';
      log.error(`${opts.name}: not restarted (restart on fault is off)`);
      return;
    }
    const delayMs = Math.min(policy.initialBackoffMs * 2 ** Math.min(consecutive - 1, 40), policy.maxBackoffMs);
    state = 'backoff';
    log.info(`${opts.name}: restarting in ${delayMs} ms (failure ${failureCount}, ${reason})`);
    restartTimer = setTimeout(() => {
      restartTimer = null;
      if (state === 'backoff') launch();
    }, delayMs);
    for (const listener of backoffListeners) listener({ delayMs, failureCount, reason });
  }

  function emitExit(info: ExitInfo): void {
    for (const listener of exitListeners) {
      try {
        listener(info);
      } catch (err) {
        log.warn(`${opts.name}: exit listener failed: ${(err as Error).message}`);
      }
    }
  }

  function startChecks(self: Run): void {
    if (self.pid === null || (policy.maxMemoryMB === undefined && policy.maxCpu === undefined)) return;
    if (process.platform !== 'linux') {
      log.warn(`${opts.name}: memory/CPU restart conditions need Linux /proc; not checked`);
      return;
    }
    const pgid = self.pid;
    const skip = () => run !== self || self.exited || conditionFault !== null || stopRequested;
    checkTimer = watchConditions(pgid, policy, policy.checkIntervalMs, skip, (reason, message) => {
      conditionFault = reason;
      lastError = message;
      log.warn(`${opts.name}: restarting pid ${pgid}: ${message}`);
      void terminate(self, pgid, policy.makeCore ? 'SIGQUIT' : 'SIGTERM', conditionGraceMs);
    });
  }

  function stopChecks(): void {
    if (checkTimer) clearInterval(checkTimer);
    checkTimer = null;
  }

  const groupLog = {
    warn: (m: string) => log.warn(`${opts.name}: ${m}`),
    error: (m: string) => log.error(`${opts.name}: ${m}`),
  };
  const terminate = (self: Run, pgid: number, signal: NodeJS.Signals, graceMs: number) =>
    terminateGroup(pgid, signal, graceMs, () => self.exited, groupLog);
  const signalGroup = (pgid: number, signal: NodeJS.Signals) => signalProcessGroup(pgid, signal, groupLog);

  return {
    start(nextSpec, nextPolicy) {
      if (stopping || (state !== 'stopped' && state !== 'failed')) {
        throw new Error(`${opts.name} is already ${stopping ? 'stopping' : state}; stop it first`);
      }
      begin(nextSpec, nextPolicy);
      launch();
    },

    stop(graceMs = 10_000, signal: NodeJS.Signals = 'SIGTERM') {
      if (stopping) return stopping;
      stopRequested = true;
      if (restartTimer) clearTimeout(restartTimer);
      restartTimer = null;
      stopChecks();
      const current = run;
      if (!current || current.pid === null) {
        // Not started yet (spawn pending) is handled by killing once spawned; nothing else to wait for.
        if (current) current.proc?.kill('SIGKILL');
        state = 'stopped';
        capture.close();
        return Promise.resolve();
      }
      log.info(`${opts.name}: stopping pid ${current.pid}`);
      stopping = terminate(current, current.pid, signal, graceMs).finally(() => {
        stopping = null;
        state = 'stopped';
        forgetProcess();
        capture.close();
      });
      return stopping;
    },

    adopt(nextSpec, nextPolicy, owns) {
      if (stopping || (state !== 'stopped' && state !== 'failed')) return false;
      const saved = readProcessRecord(processFile);
      if (!saved) return false;
      if (!leaderAlive(saved.pid) || !owns(saved.pid)) {
        forgetProcess();
        return false;
      }
      begin(nextSpec, nextPolicy);
      const self: Run = {
        proc: null,
        pid: saved.pid,
        spawned: true,
        exited: false,
        output: null,
        watch: null,
      };
      run = self;
      state = 'running';
      startedAtMs = Date.parse(saved.startedAt) || now();
      followOutput(self, nextSpec, saved.offsets ?? 'end');
      // Not this process's child: no exit event, so its leader is watched instead.
      self.watch = setInterval(() => {
        if (self.exited || leaderAlive(saved.pid)) return;
        self.exited = true;
        endOutput(self);
        onExit(self, null, null);
      }, 200);
      self.watch.unref();
      startChecks(self);
      log.info(`${opts.name}: adopted pid ${saved.pid} left running by a previous agent`);
      return true;
    },

    detach() {
      stopRequested = true;
      if (restartTimer) clearTimeout(restartTimer);
      restartTimer = null;
      stopChecks();
      const current = run;
      if (current?.pid != null && !current.exited) {
        const offsets = current.output?.release() ?? { stdout: 0, stderr: 0 };
        current.output = null;
        if (current.watch) clearInterval(current.watch);
        current.proc?.removeAllListeners('exit');
        current.proc?.unref();
        writeProcessFile({
          pid: current.pid,
          startedAt: new Date(startedAtMs ?? now()).toISOString(),
          offsets,
        });
        log.info(`${opts.name}: left pid ${current.pid} running for the next agent`);
      }
      run = null;
      state = 'stopped';
      capture.close();
    },

    status(): SupervisorStatus {
      return {
        state,
        pid: run?.pid ?? null,
        startedAt: startedAtMs === null || !run ? null : new Date(startedAtMs).toISOString(),
        failureCount,
        lastExitCode,
        lastSignal,
        lastFaultReason,
        lastError,
      };
    },

    onExit(listener) {
      exitListeners.add(listener);
      return () => exitListeners.delete(listener);
    },

    onBackoff(listener) {
      backoffListeners.add(listener);
      return () => backoffListeners.delete(listener);
    },

    tail(n) {
      return capture.tail(n);
    },
  };
}

function spawnMessage(spec: RunSpec, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT' && !existsSync(spec.workingDir)) {
    return `cannot start ${spec.command}: working directory ${spec.workingDir} does not exist`;
  }
  if (err.code === 'ENOENT') return `cannot start ${spec.command}: command not found (ENOENT)`;
  if (err.code === 'EACCES') return `cannot start ${spec.command}: permission denied (EACCES)`;
  return `cannot start ${spec.command}: ${err.message}`;
}
