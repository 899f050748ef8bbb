// The agent's main loop: recover interrupted updates, start what is installed, then long-poll the
// desired list and converge each service to it, reporting state on change and as a heartbeat.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentDesired, AgentDesiredService, AgentStateReport } from '@flotilla/protocol';
import type { HostDrift } from '../drift/host-runner.ts';
import { type AgentLayout, agentLayout } from '../layout.ts';
import type { FleetMesh, FleetMeshOptions } from '../mesh/fleet.ts';
import type { SupervisorLogger } from '../supervisor/process-supervisor.ts';
import { killOrphans } from '../update/orphans.ts';
import { recoverAll } from '../update/recover.ts';
import type { UpdateHooks } from '../update/undo.ts';
import type { TrustedKey } from '../update/verify.ts';
import { verifyDesired } from '../update/verify-desired.ts';
import { AgentApi, ApiError, isTransient } from './api.ts';
import { AppliedRevision, type DesiredRefusal, withRefusal } from './applied-revision.ts';
import { backoffDelay, sleep } from './backoff.ts';
import type { AgentConfig } from './config.ts';
import { credentialFile, EnrolmentError } from './enrolment.ts';
import { packFaultReport, uploadPendingFaults } from './fault-reporter.ts';
import { instanceIdFor, trustedKey } from './identity.ts';
import { lazyPart } from './lazy-part.ts';
import { LogUploader } from './log-uploader.ts';
import { agentServiceName, SelfUpdateClient } from './self-update.ts';
import { type ExitEvent, ServiceRunner } from './service-runner.ts';
import { StateReporter } from './state-reporter.ts';

export interface AgentLogger extends SupervisorLogger {
  debug(message: string): void;
}

export interface RunningAgent {
  instanceId: string;
  layout: AgentLayout;
  /** Resolves once the first desired list has been converged (tests and benchmarks wait on it). */
  firstSync: Promise<void>;
  /** Resolves after each converge pass, with the revision it converged to. */
  onConverged(listener: (revision: number) => void): () => void;
  services(): AgentStateReport;
  /** Stops polling, flushes logs and reports, and stops the services. */
  stop(): Promise<void>;
  /** Like `stop`, but leaves the services running for the next agent to adopt. */
  detach(): Promise<void>;
  /** Resolves when the agent has stopped, or rejects on a fatal error (e.g. a revoked token). */
  done: Promise<void>;
}

export interface AgentHooks {
  logger?: AgentLogger;
  gateIntervalMs?: number;
  /** Called after each journal record of an update (failure injection in tests). */
  updateHooks?: UpdateHooks;
  /**
   * The agent's own version and where it says it is healthy (see self-update.ts); with `onRequest`, it
   * asks for the desired version of itself (a trial version only reports).
   */
  selfUpdate?: { runningVersion: string; statusFile?: string; onRequest?: () => void };
  /** Called when the agent gives up for good (401/403); the CLI exits non-zero. */
  onFatal?: (err: Error) => void;
  /** Host drift: pass and heartbeat intervals (tests shorten them). */
  drift?: { intervalMs?: number; heartbeatMs?: number };
  /** The mesh node: peer poll, summary flush and minute grace (tests shorten them). */
  mesh?: Pick<FleetMeshOptions, 'pollMs' | 'flushMs' | 'closeGraceMs'>;
}

const quietLogger: AgentLogger = { debug() {}, info() {}, warn() {}, error() {} };

export async function startAgent(config: AgentConfig, hooks: AgentHooks = {}): Promise<RunningAgent> {
  const log = hooks.logger ?? quietLogger;
  const layout = agentLayout(config.dir);
  const instanceId = instanceIdFor(layout.root, config.instanceId);
  // Every call speaks as this instance: enrolled once with the agent token (see enrolment.ts).
  const api = new AgentApi(config.server, config.token, { dir: layout.root, instanceId });
  const stopping = new AbortController();
  const runners = new Map<string, ServiceRunner>();
  const convergedListeners = new Set<(revision: number) => void>();
  const uploader = new LogUploader({
    api,
    instanceId,
    maxBufferBytes: config.logBufferBytes,
    onError: (err) => log.debug(`log upload failed; retrying: ${(err as Error).message}`),
  });
  const self = hooks.selfUpdate ? new SelfUpdateClient(layout, hooks.selfUpdate.runningVersion) : null;
  let desiredAgentVersion: string | null = null;
  let lastSelfTarget: AgentDesiredService | null = null;
  let faultWork: Promise<unknown> = Promise.resolve();

  const runnerFor = (name: string): ServiceRunner => {
    let runner = runners.get(name);
    if (!runner) {
      runner = new ServiceRunner(name, {
        layout,
        role: config.roles[name] ?? '',
        logger: log,
        keepVersions: config.keepVersions,
        ...(hooks.gateIntervalMs !== undefined ? { gateIntervalMs: hooks.gateIntervalMs } : {}),
        ...(hooks.updateHooks ? { updateHooks: hooks.updateHooks } : {}),
        onUploadLine: (service, version, pid, line) =>
          uploader.push({
            service,
            ...(version ? { version } : {}),
            ...(pid !== null ? { pid } : {}),
            time: line.time,
            level: line.level,
            unit: line.unit,
            stream: line.stream,
            message: line.message,
          }),
        onFault: (event) => {
          faultWork = faultWork.then(() => reportFault(event)).catch(() => {});
        },
        onChange: () => scheduleReport(),
      });
      runners.set(name, runner);
    }
    return runner;
  };

  const reportFault = async (event: ExitEvent) => {
    const archive = await packFaultReport(layout.faults, {
      instanceId,
      service: event.service,
      version: event.version,
      reason: event.reason,
      exitCode: event.code,
      signal: event.signal,
      state: event.state,
      logTail: event.tail,
      searchDir: event.workingDir,
      patterns: event.manifest?.faultFilesMatch ?? [],
    });
    const what = event.reason === 'update-rolled-back' ? 'update failed' : `exited unexpectedly (${event.reason})`;
    log.warn(`${event.service}: ${what}; fault report ${archive}`);
    await uploadPendingFaults(layout.faults, api, (err) => log.debug(`fault upload: ${(err as Error).message}`));
  };

  /** The last desired list refused, until one is accepted: its reason goes into the report. */
  let refusal: DesiredRefusal | null = null;
  const stateReport = (): AgentStateReport => ({
    instanceId,
    labels: config.labels,
    services: withRefusal(
      [
        ...[...runners.values()].filter((r) => r.desired || r.version).map((r) => r.report()),
        ...(self ? [self.report(desiredAgentVersion)] : []),
      ],
      refusal,
    ),
  });

  const reporter = new StateReporter(api, stateReport, (err) =>
    log.debug(`state report failed: ${(err as Error).message}`),
  );
  const sendReport = () => reporter.send();
  const scheduleReport = () => reporter.schedule();

  // 1. Finish or roll back updates a crash interrupted, then start what is installed: all before any
  //    network call, so a host whose server is down still runs its services.
  const recovered = await recoverAll({
    layout,
    supervisorFor: (name) => runnerFor(name).supervisor,
    exclude: [agentServiceName],
    ...(hooks.gateIntervalMs !== undefined ? { gateIntervalMs: hooks.gateIntervalMs } : {}),
  });
  for (const r of recovered) {
    log.warn(`recovered ${r.service}: ${r.summary ?? `${r.action} (${r.version ?? 'nothing'} running)`}`);
  }
  for (const name of installedServices(layout)) {
    // Recovery already started (and owns) the services it touched; the others may still be running.
    const runner = runnerFor(name);
    if (runner.supervisor.status().state !== 'stopped') continue;
    if (runner.adoptRunning()) continue;
    // Processes of this service that cannot be adopted (not the recorded one) would hold its ports.
    const orphans = await killOrphans(layout.service(name).root);
    if (orphans.length > 0) log.warn(`${name}: ended ${orphans.length} process(es) left by a previous agent`);
    runnerFor(name).startInstalled();
  }
  uploader.start();

  // The mesh (docs/mesh.md): a light poll of whether it is on; the node itself loads only when it is.
  const mesh = lazyPart<FleetMesh>(stopping.signal, (err) => log.warn(`the mesh could not start: ${err.message}`));
  const meshListen = config.meshListen;
  if (meshListen) {
    mesh.start(async () => {
      const { startFleetMesh } = await import('../mesh/fleet.ts');
      return () =>
        startFleetMesh({
          api,
          instanceId,
          listen: meshListen,
          log: (level, message) => log[level](message),
          ...hooks.mesh,
        });
    });
  }

  let resolveFirst!: () => void;
  const firstSync = new Promise<void>((resolve) => {
    resolveFirst = resolve;
  });

  const applied = new AppliedRevision(layout.root);
  /** Why a desired answer cannot be acted on (bad signature, stale, older revision), or null; records its revision. */
  const refusalOf = (desired: AgentDesired, trust: TrustedKey): string | null => {
    try {
      applied.accept(verifyDesired(trust, desired));
      refusal = null;
      return null;
    } catch (err) {
      const reason = (err as Error).message;
      refusal = { reason, services: Array.isArray(desired.services) ? desired.services.map((s) => s?.service) : [] };
      scheduleReport();
      return reason;
    }
  };

  let selfAskedFor: string | null = null;
  // Host drift (docs/drift.md): started after the first accepted desired list, poked after each poll.
  const drift = lazyPart<HostDrift>(stopping.signal, (err) => log.warn(`host drift could not start: ${err.message}`));
  const pokeDrift = (trust: TrustedKey) => {
    const running = drift.current();
    if (running) return running.poke();
    drift.start(async () => {
      const [{ startHostDrift }, { driftTransport }] = await Promise.all([
        import('../drift/host-runner.ts'),
        import('../drift/drift-client.ts'),
      ]);
      return () =>
        startHostDrift({
          transport: driftTransport(api),
          trust,
          agentId: instanceId,
          environment: () => lastEnvironment,
          tags: config.labels,
          commands: config.driftCommands === true,
          services: () => stateReport().services,
          log,
          ...hooks.drift,
        });
    });
  };
  let lastEnvironment: string | null = null;

  const askForSelf = (target: AgentDesiredService) => {
    const onRequest = hooks.selfUpdate?.onRequest;
    if (!self || !onRequest || !self.request(target)) return;
    // Asked again on every poll while the update is pending (that is its retry); said once.
    if (selfAskedFor !== target.version) log.info(`updating the agent to ${target.version}`);
    selfAskedFor = target.version;
    // Not awaited: the update stops this agent, which must first finish this pass.
    setImmediate(onRequest);
  };

  const converge = async (desired: AgentDesired, trust: TrustedKey) => {
    const wanted = new Map<string, AgentDesiredService>(desired.services.map((s) => [s.service, s]));
    // The agent's own service is updated last, after everything else has converged (agent-process.ts).
    const selfTarget = wanted.get(agentServiceName);
    wanted.delete(agentServiceName);
    desiredAgentVersion = selfTarget?.version ?? null;
    lastSelfTarget = selfTarget ?? null;
    for (const target of wanted.values()) {
      if (stopping.signal.aborted) return;
      try {
        const result = await runnerFor(target.service).converge(target, trust, {
          url: config.server,
          token: api.token,
        });
        if (result?.summary && !result.retryable) log.warn(`${target.service}: ${result.summary}`);
        else if (result)
          log.info(`${target.service}: ${result.outcome} ${result.version ?? ''} ${result.reason ?? ''}`);
      } catch (err) {
        log.error(`${target.service}: update failed: ${(err as Error).message}`);
      }
    }
    for (const runner of runners.values()) {
      if (!wanted.has(runner.name) && runner.desired) await runner.retire();
    }
    if (selfTarget) askForSelf(selfTarget);
    await sendReport();
    for (const listener of convergedListeners) listener(desired.revision);
  };

  const loop = async () => {
    let trust: TrustedKey | null = null;
    let etag: string | null = null;
    let last: AgentDesired | null = null;
    let failures = 0;
    let refusals = 0;
    let markedHealthy = false;
    while (!stopping.signal.aborted) {
      try {
        trust ??= await trustedKey(layout.root, config.signingKey, api);
        // Updates waiting for the server to serve their artifact are retried between short polls.
        const retrying = [...runners.values()].some((r) => r.retryPending);
        const wait = retrying ? Math.min(config.waitSec, 5) : config.waitSec;
        const answer = await api.desired(instanceId, etag, wait, stopping.signal);
        failures = 0;
        if (self && hooks.selfUpdate && !markedHealthy) {
          self.markHealthy(hooks.selfUpdate.statusFile);
          markedHealthy = true;
        }
        if (answer.changed) {
          const refused = refusalOf(answer.desired, trust);
          if (refused) {
            // The services stay as they are; the ETag stays the last accepted one, so the next poll answers at once.
            const delay = backoffDelay(refusals++, 5000, 300_000);
            log.error(
              `refused the desired list: ${refused}; services unchanged, asking again in ${Math.round(delay / 1000)} s`,
            );
            await sleep(delay, stopping.signal);
            continue;
          }
          refusals = 0;
          etag = answer.etag;
          last = answer.desired;
          lastEnvironment = answer.desired.environment;
          await converge(answer.desired, trust);
          resolveFirst();
          pokeDrift(trust);
        } else if (last) {
          resolveFirst();
          if ([...runners.values()].some((r) => r.retryDue())) await converge(last, trust);
          // Asking again is idempotent, and covers a request lost in a restart.
          if (lastSelfTarget) askForSelf(lastSelfTarget);
          pokeDrift(trust);
        }
      } catch (err) {
        if (stopping.signal.aborted) break;
        // A refused enrolment or a revoked credential stops the agent: it never re-enrols by itself.
        if (err instanceof EnrolmentError) throw err;
        if (err instanceof ApiError && err.status === 401) {
          throw new Error(
            `the server refused the credential of instance "${instanceId}" (${err.message}); if it was revoked on purpose, leave this agent stopped; to enrol it again, delete ${join(layout.root, credentialFile)} and start the agent`,
          );
        }
        if (err instanceof ApiError && !isTransient(err) && err.status === 403) {
          throw new Error(`the server refused this agent: ${err.message}`);
        }
        const delay = backoffDelay(failures++, 1000, 60_000);
        log.warn(`cannot reach the server (${(err as Error).message}); retrying in ${Math.round(delay / 1000)} s`);
        await sleep(delay, stopping.signal);
      }
    }
  };

  const heartbeat = setInterval(() => {
    void sendReport();
    faultWork = faultWork.then(() => uploadPendingFaults(layout.faults, api)).catch(() => {});
  }, config.heartbeatMs);
  heartbeat.unref();

  /**
   * Stops polling and flushes logs, faults and a last report. `leaveServicesRunning` (a self-update)
   * hands the services to the next agent to adopt instead of stopping them.
   */
  const shutdown = async (leaveServicesRunning: boolean) => {
    stopping.abort();
    clearInterval(heartbeat);
    await drift.stop();
    await mesh.stop();
    if (leaveServicesRunning) for (const runner of runners.values()) runner.supervisor.detach();
    else await Promise.all([...runners.values()].map((r) => r.supervisor.stop()));
    await faultWork;
    await uploader.stop();
    await reporter.close();
  };

  let stopped: Promise<void> | null = null;
  const done = loop().then(
    () => stopped ?? undefined,
    async (err: Error) => {
      await shutdown(false);
      hooks.onFatal?.(err);
      throw err;
    },
  );
  done.catch(() => {});

  return {
    instanceId,
    layout,
    firstSync,
    onConverged(listener) {
      convergedListeners.add(listener);
      return () => convergedListeners.delete(listener);
    },
    services: stateReport,
    stop() {
      stopped ??= shutdown(false);
      return stopped;
    },
    detach() {
      stopped ??= shutdown(true);
      return stopped;
    },
    done,
  };
}

function installedServices(layout: AgentLayout): string[] {
  try {
    return readdirSync(layout.services).filter(
      (name) => name !== agentServiceName && existsSync(layout.service(name).current),
    );
  } catch {
    return [];
  }
}
