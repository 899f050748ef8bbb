// One service on this host: its supervisor, its updates, and what the agent reports about it.
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentDesiredService, AgentServiceReport, InstallManifest } from '@flotilla/protocol';
import { type AgentLayout, currentVersion, type ServiceLayout } from '../layout.ts';
import type { LogLine } from '../logs/log-line.ts';
import { type AgentSupervisor, createSupervisor, type SupervisorLogger } from '../supervisor/process-supervisor.ts';
import type { RunSpec } from '../supervisor/types.ts';
import { type Macros, runSpecOf } from '../update/commands.ts';
import type { ServerAccess } from '../update/download.ts';
import { markedProcesses } from '../update/orphans.ts';
import { failedVersionMessage, loadManifest, readFailedVersion } from '../update/state.ts';
import { runUpdate, UpdateRefused, type UpdateResult } from '../update/transaction.ts';
import { policyOf, type UpdateHooks } from '../update/undo.ts';
import type { TrustedKey } from '../update/verify.ts';
import { VerificationError } from '../update/verify.ts';
import { backoffDelay } from './backoff.ts';

export interface ExitEvent {
  service: string;
  version: string | null;
  code: number | null;
  signal: string | null;
  reason: string;
  tail: string[];
  workingDir: string | null;
  manifest: InstallManifest | null;
  state: Record<string, unknown>;
}

export interface ServiceRunnerDeps {
  layout: AgentLayout;
  role: string;
  logger: SupervisorLogger;
  /** Every captured line, with the version and process that wrote it, unless its manifest says `uploadLogs: false`. */
  onUploadLine: (service: string, version: string | null, pid: number | null, line: LogLine) => void;
  /** An unexpected exit of the service (crash, or a restart condition). */
  onFault: (event: ExitEvent) => void;
  /** Anything that changes the report. */
  onChange: () => void;
  keepVersions: number;
  gateIntervalMs?: number;
  updateHooks?: UpdateHooks;
}

export class ServiceRunner {
  readonly name: string;
  readonly supervisor: AgentSupervisor;
  readonly #deps: ServiceRunnerDeps;
  readonly #layout: ServiceLayout;
  #targetVersion: string | null = null;
  /** What ran when the update to `#targetVersion` began: reported until it ends (`current` moves mid-way). */
  #updateFrom: string | null = null;
  #updateError: string | null = null;
  /** A version refused before any change (bad signature or digest) is not retried until the target changes. */
  #refused: { version: string; signature: string } | null = null;
  #installedAt: string | null = null;
  /** Whether each version's lines are uploaded (its manifest's `logs.uploadLogs`, default true). */
  readonly #uploadByVersion = new Map<string, boolean>();
  #desired = true;
  /** When the server was unreachable for the artifact: when to try again, and how often it failed. */
  #retryAt: number | null = null;
  #retries = 0;

  constructor(name: string, deps: ServiceRunnerDeps) {
    this.name = name;
    this.#deps = deps;
    this.#layout = deps.layout.service(name);
    const logs = this.#currentManifest()?.logs ?? {};
    this.supervisor = createSupervisor({
      name,
      logDir: join(deps.layout.root, 'logs', name),
      logger: deps.logger,
      ...(logs.maxFileSizeMB ? { maxFileSizeMB: logs.maxFileSizeMB } : {}),
      ...(logs.maxFilesCount ? { maxFilesCount: logs.maxFilesCount } : {}),
      // Lines of a version under its health gate go too, so a version that fails at start shows why.
      onLine: (line, origin) => {
        if (this.#uploadsLinesOf(origin.version)) deps.onUploadLine(name, origin.version, origin.pid, line);
      },
    });
    this.supervisor.onExit((exit) => {
      deps.onChange();
      if (exit.expected) return;
      const status = this.supervisor.status();
      const manifest = this.#currentManifest();
      deps.onFault({
        service: name,
        version: this.version,
        code: exit.code,
        signal: exit.signal,
        reason: status.lastFaultReason ?? 'exit',
        tail: this.supervisor.tail(500),
        workingDir: this.#workingDir(manifest),
        manifest,
        state: { ...status, role: deps.role, targetVersion: this.#targetVersion, serviceDir: this.#layout.root },
      });
    });
    this.supervisor.onBackoff(() => deps.onChange());
  }

  get version(): string | null {
    return currentVersion(this.#layout);
  }

  #uploadsLinesOf(version: string | null): boolean {
    if (version === null) return true;
    let upload = this.#uploadByVersion.get(version);
    if (upload === undefined) {
      try {
        upload = loadManifest(this.#layout, version).logs?.uploadLogs !== false;
      } catch {
        upload = true;
      }
      this.#uploadByVersion.set(version, upload);
    }
    return upload;
  }

  #currentManifest(): InstallManifest | null {
    const version = currentVersion(this.#layout);
    if (!version) return null;
    try {
      return loadManifest(this.#layout, version);
    } catch {
      return null;
    }
  }

  #workingDir(manifest: InstallManifest | null): string | null {
    if (!existsSync(this.#layout.current)) return null;
    const dir = realpathSync(this.#layout.current);
    return manifest?.run?.workingDir ? join(dir, manifest.run.workingDir) : dir;
  }

  #macros(version: string): Macros {
    return { version, role: this.#deps.role };
  }

  /** How to run the installed version, when there is one, it is not running, and it has a `run`. */
  #installedRun(): { spec: RunSpec; manifest: InstallManifest } | null {
    const version = this.version;
    if (!version || this.supervisor.status().state !== 'stopped') return null;
    const manifest = this.#currentManifest();
    if (!manifest) return null;
    const spec = runSpecOf(manifest, realpathSync(this.#layout.current), this.#macros(version), this.#layout.root);
    return spec ? { spec, manifest } : null;
  }

  /** Starts the installed version if it is not running (after an agent restart). */
  startInstalled(): void {
    const run = this.#installedRun();
    if (!run) return;
    this.supervisor.start(run.spec, policyOf(run.manifest));
    this.#deps.onChange();
  }

  /**
   * Takes over the installed version's process that a previous agent left running (it carries this
   * service's marker); false when there is none, and the caller starts the service afresh.
   */
  adoptRunning(): boolean {
    const run = this.#installedRun();
    if (!run) return false;
    const owns = (pid: number) => markedProcesses(this.#layout.root).includes(pid);
    const adopted = this.supervisor.adopt(run.spec, policyOf(run.manifest), owns);
    if (adopted) this.#deps.onChange();
    return adopted;
  }

  /** Brings the service to `target`: an update transaction when the version differs. */
  async converge(target: AgentDesiredService, trust: TrustedKey, server: ServerAccess): Promise<UpdateResult | null> {
    this.#desired = true;
    const running = this.version;
    if (running === target.version) {
      this.#targetVersion = null;
      this.#updateError = null;
      this.#retryAt = null;
      this.startInstalled();
      return null;
    }
    if (this.#refused?.version === target.version && this.#refused.signature === target.signature) return null;
    const failed = readFailedVersion(this.#layout);
    if (failed?.version === target.version) {
      this.#updateError = failedVersionMessage(failed);
      this.#targetVersion = null;
      return null;
    }
    this.#targetVersion = target.version;
    this.#updateFrom = running;
    this.#updateError = null;
    this.#deps.onChange();
    // A first install is not an update: nothing runs that could be kept or rolled back to.
    const what = running === null ? `install of ${this.name} ${target.version}` : `update to ${target.version}`;
    try {
      const result = await runUpdate({
        layout: this.#deps.layout,
        service: this.name,
        role: this.#deps.role,
        from: running ? { version: running, dir: this.#layout.versionDir(running) } : null,
        to: { version: target.version, signedManifest: target.signedManifest, signature: target.signature },
        supervisor: this.supervisor,
        trust,
        server,
        keepVersions: this.#deps.keepVersions,
        ...(this.#deps.gateIntervalMs !== undefined ? { gateIntervalMs: this.#deps.gateIntervalMs } : {}),
        ...(this.#deps.updateHooks ? { hooks: this.#deps.updateHooks } : {}),
      });
      if (result.retryable) {
        this.#retryAt = Date.now() + backoffDelay(this.#retries++, 5000, 300_000);
        this.#updateError = `${what} waits for the server: ${result.reason}`;
        return result;
      }
      this.#retryAt = null;
      this.#retries = 0;
      if (result.outcome === 'committed') {
        this.#installedAt = new Date().toISOString();
      } else if (result.outcome === 'rolled-back') {
        this.#updateError = result.summary ?? `${what} failed: ${result.reason}`;
        // A failed update is reported like a crash: its reason and the output of the failed step.
        this.#deps.onFault({
          service: this.name,
          version: target.version,
          code: null,
          signal: null,
          reason: 'update-rolled-back',
          tail: result.output ?? [],
          workingDir: null,
          manifest: null,
          state: {
            from: running,
            to: target.version,
            error: result.reason ?? null,
            summary: result.summary ?? null,
            rolledBackTo: result.version,
          },
        });
      }
      return result;
    } catch (err) {
      if (err instanceof VerificationError || err instanceof UpdateRefused) {
        this.#refused = { version: target.version, signature: target.signature };
        this.#updateError = `${what} refused: ${err.message}`;
        return null;
      }
      this.#updateError = `${what} failed: ${(err as Error).message}`;
      throw err;
    } finally {
      this.#targetVersion = null;
      this.#deps.onChange();
    }
  }

  /** The service left the desired list: stop it, keep its files for a quick return. */
  async retire(): Promise<void> {
    this.#desired = false;
    this.#targetVersion = null;
    this.#retryAt = null;
    if (this.supervisor.status().state !== 'stopped') await this.supervisor.stop();
    this.#deps.onChange();
  }

  /** An update that failed only because the server was unreachable, and is due to be tried again. */
  retryDue(now = Date.now()): boolean {
    return this.#retryAt !== null && now >= this.#retryAt;
  }

  get retryPending(): boolean {
    return this.#retryAt !== null;
  }

  get desired(): boolean {
    return this.#desired;
  }

  report(): AgentServiceReport {
    const status = this.supervisor.status();
    const updating = this.#targetVersion !== null;
    const version = updating ? this.#updateFrom : this.version;
    // A library-only version (no `run`) has no process: installed and desired counts as running.
    const libraryOnly = version !== null && this.#desired && !this.#currentManifest()?.run;
    const state = updating
      ? 'updating'
      : status.state === 'failed' || (status.state === 'backoff' && status.failureCount > 0)
        ? 'failed'
        : status.state === 'stopped' && !libraryOnly
          ? 'stopped'
          : 'running';
    const report: AgentServiceReport = { service: this.name, state, failureCount: status.failureCount };
    if (version) report.version = version;
    if (this.#targetVersion) report.targetVersion = this.#targetVersion;
    // While the new version is being gated, its exits are the gate's business, said once it ends.
    const error = this.#updateError ?? (updating ? null : (status.lastError ?? null));
    if (error) report.updateError = error.slice(0, 1024);
    if (this.#installedAt) report.installedAt = this.#installedAt;
    if (status.startedAt) report.startedAt = status.startedAt;
    if (status.lastExitCode !== null) report.lastExitCode = status.lastExitCode;
    return report;
  }
}
