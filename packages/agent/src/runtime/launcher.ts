// `flotilla agent` is a small launcher that runs the worker (the agent proper) as the supervised service
// `flotilla-agent`, restarts it when it dies, and applies the worker's self-update requests through the
// journaled update transaction, so a new agent that does not come up healthy is rolled back.
import { mkdirSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { agentLayout, currentVersion } from '../layout.ts';
import { createSupervisor } from '../supervisor/process-supervisor.ts';
import type { RunSpec, ServiceSupervisor } from '../supervisor/types.ts';
import { runSpecOf } from '../update/commands.ts';
import { killOrphans, markedProcesses } from '../update/orphans.ts';
import { recoverService } from '../update/recover.ts';
import { loadManifest, recordFailedVersion, saveManifest, setCurrent } from '../update/state.ts';
import { runUpdate, UpdateRefused } from '../update/transaction.ts';
import { policyOf } from '../update/undo.ts';
import { VerificationError } from '../update/verify.ts';
import type { AgentLogger } from './agent.ts';
import { AgentApi } from './api.ts';
import { type AgentConfig, configEnv } from './config.ts';
import { readCredential } from './enrolment.ts';
import { instanceIdFor, trustedKey } from './identity.ts';
import {
  agentServiceName,
  builtinManifest,
  builtinVersion,
  readRequest,
  SelfUpdateClient,
  selfUpdatePaths,
  workerStatusFile,
} from './self-update.ts';

export interface LauncherOptions {
  /** How to run the agent that came with this command, e.g. [node, main.js, 'agent']. */
  workerCommand: string[];
  logger: AgentLogger;
  /** Extra variables for the worker (failure injection in tests). */
  workerEnv?: Record<string, string>;
  /** Each line the worker writes (the CLI echoes them, so the service manager's journal has them). */
  onWorkerLine?: (text: string) => void;
  pollMs?: number;
  gateIntervalMs?: number;
}

export interface RunningLauncher {
  instanceId: string;
  stop(): Promise<void>;
}

export async function startLauncher(config: AgentConfig, opts: LauncherOptions): Promise<RunningLauncher> {
  const log = opts.logger;
  const layout = agentLayout(config.dir);
  mkdirSync(layout.root, { recursive: true });
  const instanceId = instanceIdFor(layout.root, config.instanceId);
  const service = layout.service(agentServiceName);
  const inner = createSupervisor({
    name: agentServiceName,
    logDir: join(layout.root, 'logs', agentServiceName),
    logger: log,
    onLine: (line) =>
      opts.onWorkerLine?.(line.unit ? `${line.level.toUpperCase()} ${line.unit} ${line.message}` : line.message),
  });
  // The worker gets the settings from the launcher, and learns which version it is and where to say it is healthy.
  const worker: ServiceSupervisor = {
    start(spec: RunSpec, policy) {
      const version = currentVersion(service) ?? builtinVersion;
      const statusFile = join(realpathSync(service.current), workerStatusFile);
      SelfUpdateClient.clearStatus(statusFile);
      inner.start(
        {
          ...spec,
          env: {
            ...spec.env,
            ...configEnv(config, instanceId),
            ...opts.workerEnv,
            FLOTILLA_AGENT_WORKER: '1',
            FLOTILLA_AGENT_VERSION: version,
            FLOTILLA_AGENT_STATUS_FILE: statusFile,
          },
        },
        policy,
      );
    },
    // Replacing the worker (a self-update, or its rollback): SIGUSR2 asks it to leave its services
    // running for the next worker to adopt. Only the launcher's own shutdown stops them (SIGTERM).
    stop: (graceMs) => inner.stop(graceMs ?? 60_000, 'SIGUSR2'),
    status: () => inner.status(),
    onExit: (listener) => inner.onExit(listener),
    tail: (n) => inner.tail(n),
  };

  const recovered = await recoverService({ layout, service: agentServiceName, supervisor: worker });
  if (recovered.action !== 'none') log.warn(`recovered the agent's own update: ${recovered.action}`);
  const running = currentVersion(service);
  if (running === null || running === builtinVersion) {
    // The built-in worker is whatever this command is: its manifest is rewritten at every start.
    const dir = service.versionDir(builtinVersion);
    mkdirSync(dir, { recursive: true });
    saveManifest(service, builtinVersion, builtinManifest(opts.workerCommand));
    if (running === null) setCurrent(service, dir);
  }
  if (inner.status().state === 'stopped') {
    // A worker that outlived its launcher (kill -9 of the launcher alone) is taken over, not restarted.
    if (!startCurrent(true)) {
      await killOrphans(service.root);
      startCurrent();
    }
  }

  /** Starts the current worker version, or with `adopt` takes over its running process; false if none. */
  function startCurrent(adopt = false): boolean {
    const version = currentVersion(service) ?? builtinVersion;
    const dir = realpathSync(service.current);
    const manifest = loadManifest(service, version, dir);
    const spec = runSpecOf(manifest, dir, { version, role: '' }, service.root);
    if (!spec) throw new Error(`the agent version ${version} has no run command`);
    if (adopt) {
      const adopted = inner.adopt(spec, policyOf(manifest), (pid) => markedProcesses(service.root).includes(pid));
      if (adopted) log.info(`took over the running agent worker (${version})`);
      return adopted;
    }
    worker.start(spec, policyOf(manifest));
    return true;
  }

  const api = new AgentApi(config.server, config.token);
  let busy: Promise<void> | null = null;
  const applyRequest = async () => {
    const request = readRequest(layout);
    if (!request) return;
    const from = currentVersion(service);
    const requestFile = selfUpdatePaths(layout).request;
    try {
      if (from === request.version) return;
      log.info(`self-update: ${from ?? 'none'} → ${request.version}`);
      const result = await runUpdate({
        layout,
        service: agentServiceName,
        from: from ? { version: from, dir: service.versionDir(from) } : null,
        to: request,
        supervisor: worker,
        trust: await trustedKey(layout.root, config.signingKey, api),
        // The worker's instance credential: a bare agent token may only enrol.
        server: { url: config.server, token: readCredential(layout.root) ?? config.token },
        keepVersions: config.keepVersions,
        ...(opts.gateIntervalMs !== undefined ? { gateIntervalMs: opts.gateIntervalMs } : {}),
      });
      if (result.outcome === 'committed') log.info(`self-update to ${request.version}: committed`);
      else log.warn(`self-update: ${result.summary ?? `${result.outcome} ${result.reason ?? ''}`}`);
    } catch (err) {
      if (err instanceof VerificationError || err instanceof UpdateRefused) {
        const reason = `refused: ${err.message}`;
        recordFailedVersion(service, request.version, reason, `update to ${request.version} ${reason}`);
      }
      log.error(`self-update to ${request.version} failed: ${(err as Error).message}`);
    } finally {
      // A newer request may have arrived meanwhile (the new worker asks at once): keep that one.
      if (readRequest(layout)?.version === request.version) rmSync(requestFile, { force: true });
      // A worker stopped by a failed step and not brought back by the undo must not stay down.
      if (worker.status().state === 'stopped') startCurrent();
    }
  };
  const timer = setInterval(() => {
    busy ??= applyRequest()
      .catch((err) => log.error(`self-update: ${(err as Error).message}`))
      .finally(() => {
        busy = null;
      });
  }, opts.pollMs ?? 500);

  return {
    instanceId,
    async stop() {
      clearInterval(timer);
      await busy;
      await inner.stop(90_000, 'SIGTERM');
    },
  };
}
