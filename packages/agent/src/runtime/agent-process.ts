// The agent is one Node process (kept running by launcher.sh). It runs the agent proper in-process and
// updates itself through the journaled transaction: the new version runs beside it as a trial until its
// health gate passes, then this process exits 75 and the launcher starts the new one; if the gate fails,
// the agent proper starts again here. Only a restart before anything runs replaces the process (execve).
import { mkdirSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { agentLayout, currentVersion } from '../layout.ts';
import { createSupervisor } from '../supervisor/process-supervisor.ts';
import { runSpecOf } from '../update/commands.ts';
import { killOrphans } from '../update/orphans.ts';
import { recoverService } from '../update/recover.ts';
import { loadManifest, recordFailedVersion, saveManifest, setCurrent } from '../update/state.ts';
import { runUpdate, UpdateRefused } from '../update/transaction.ts';
import { VerificationError } from '../update/verify.ts';
import { type AgentHooks, type AgentLogger, type RunningAgent, startAgent } from './agent.ts';
import { AgentSlot } from './agent-slot.ts';
import { AgentApi } from './api.ts';
import { type AgentConfig, configEnv } from './config.ts';
import { readCredential } from './enrolment.ts';
import { instanceIdFor, trustedKey } from './identity.ts';
import {
  agentServiceName,
  agentStatusFile,
  builtinManifest,
  builtinVersion,
  readRequest,
  selfUpdatePaths,
} from './self-update.ts';

/** The exit code that asks launcher.sh to start the agent again at once: a new version takes over. */
export const handOverExitCode = 75;

export interface AgentProcessOptions {
  /** How to run the agent that came with this command, e.g. [node, main.js, 'agent']. */
  builtinCommand: string[];
  /** The version this process runs ('builtin' for the installed command). */
  ownVersion: string;
  logger: AgentLogger;
  /** Passed to the agent proper (failure injection in tests) and to trial versions as variables. */
  hooks?: Pick<AgentHooks, 'updateHooks' | 'gateIntervalMs'>;
  trialEnv?: Record<string, string>;
  /** Replaces this process with `command` (process.execve); only called before anything has started. */
  replaceWith(command: string, args: string[], env: Record<string, string>): never;
  /** Ends this process with `code` once a new version has passed its gate (launcher.sh restarts it). */
  exit(code: number): void;
}

export interface AgentProcess {
  instanceId: string;
  /** Stops the agent (and a trial version) and their services, flushing what they hold. */
  stop(): Promise<void>;
  /** Rejects when the agent proper gives up for good (a revoked credential). */
  done: Promise<void>;
}

export async function runAgentProcess(config: AgentConfig, opts: AgentProcessOptions): Promise<AgentProcess> {
  const log = opts.logger;
  const layout = agentLayout(config.dir);
  mkdirSync(layout.root, { recursive: true });
  const instanceId = instanceIdFor(layout.root, config.instanceId);
  const service = layout.service(agentServiceName);
  const own = opts.ownVersion;
  // An agent whose launcher was killed alone may still run: the newest agent of a directory wins.
  const others = await killOrphans(service.root);
  if (others.length > 0) log.warn(`ended ${others.length} process(es) left by a previous agent`);

  let fatal: (err: Error) => void = () => {};
  const done = new Promise<void>((_, reject) => {
    fatal = reject;
  });
  let agent: RunningAgent | null = null;
  const startOwn = async (statusFile: string) => {
    agent = await startAgent(config, {
      logger: log,
      ...opts.hooks,
      selfUpdate: { runningVersion: own, statusFile, onRequest: () => schedule() },
      onFatal: (err) => fatal(err),
    });
  };
  const trials = createSupervisor({
    name: agentServiceName,
    logDir: join(layout.root, 'logs', agentServiceName),
    logger: log,
    // A trial's own lines reach the service manager's journal too.
    onLine: (line) => process.stderr.write(`${line.message}\n`),
  });
  const slot = new AgentSlot({
    ownVersion: own,
    trials,
    // The whole environment (proxies, CA files, Node options) and the settings, as this process has them.
    trialEnv: { ...(process.env as Record<string, string>), ...configEnv(config, instanceId), ...opts.trialEnv },
    statusFileOf: (version) => join(service.versionDir(version), agentStatusFile),
    startOwn: (statusFile) => {
      void startOwn(statusFile).catch((err: Error) => fatal(err));
    },
    stopOwn: async () => {
      const running = agent;
      agent = null;
      await running?.detach();
    },
  });

  if (own === builtinVersion) {
    // The built-in agent is whatever this command is: its manifest is rewritten at every start.
    mkdirSync(service.versionDir(builtinVersion), { recursive: true });
    saveManifest(service, builtinVersion, builtinManifest(opts.builtinCommand));
    if (currentVersion(service) === null) setCurrent(service, service.versionDir(builtinVersion));
  }
  const recovered = await recoverService({ layout, service: agentServiceName, supervisor: slot });
  if (recovered.action !== 'none') log.warn(`recovered the agent's own update: ${recovered.action}`);
  const current = currentVersion(service) ?? builtinVersion;
  if (current !== own) {
    // Another version is current: hand over to it (a trial started by the recovery first lets go).
    if (slot.status().state !== 'stopped') {
      await slot.stop();
      opts.exit(handOverExitCode);
      return { instanceId, stop: async () => {}, done };
    }
    const dir = realpathSync(service.current);
    const spec = runSpecOf(loadManifest(service, current, dir), dir, { version: current, role: '' }, service.root);
    if (!spec) throw new Error(`the agent version ${current} has no run command`);
    log.info(`starting the current agent version ${current}`);
    process.chdir(spec.workingDir);
    opts.replaceWith(spec.command, spec.args, {
      ...(process.env as Record<string, string>),
      ...spec.env,
      ...configEnv(config, instanceId),
      FLOTILLA_AGENT_VERSION: current,
    });
  }
  if (slot.status().state === 'stopped') slot.startOwnVersion();

  const api = new AgentApi(config.server, config.token);
  let busy: Promise<void> | null = null;
  const applyRequest = async () => {
    const request = readRequest(layout);
    if (!request) return;
    if (request.version === own) {
      rmSync(selfUpdatePaths(layout).request, { force: true });
      return;
    }
    log.info(`self-update: ${own} → ${request.version}`);
    let committed = false;
    try {
      const result = await runUpdate({
        layout,
        service: agentServiceName,
        from: { version: own, dir: service.versionDir(own) },
        to: request,
        supervisor: slot,
        trust: await trustedKey(layout.root, config.signingKey, api),
        // This instance's credential: a bare agent token may only enrol.
        server: { url: config.server, token: readCredential(layout.root) ?? config.token },
        keepVersions: config.keepVersions,
        ...(opts.hooks?.gateIntervalMs !== undefined ? { gateIntervalMs: opts.hooks.gateIntervalMs } : {}),
      });
      committed = result.outcome === 'committed';
      if (committed) log.info(`self-update to ${request.version}: committed; handing over`);
      else log.warn(`self-update: ${result.summary ?? `${result.outcome} ${result.reason ?? ''}`}`);
    } catch (err) {
      if (err instanceof VerificationError || err instanceof UpdateRefused) {
        const reason = `refused: ${err.message}`;
        recordFailedVersion(service, request.version, reason, `update to ${request.version} ${reason}`);
      }
      log.error(`self-update to ${request.version} failed: ${(err as Error).message}`);
    } finally {
      if (readRequest(layout)?.version === request.version) rmSync(selfUpdatePaths(layout).request, { force: true });
    }
    if (committed) {
      // The trial lets go of the services; the launcher starts the new version, which adopts them.
      await slot.stop();
      opts.exit(handOverExitCode);
    } else if (slot.status().state === 'stopped') {
      // A failed step the undo did not bring back from must not leave the agent down.
      slot.startOwnVersion();
    }
  };
  const schedule = () => {
    busy ??= applyRequest()
      .catch((err) => log.error(`self-update: ${(err as Error).message}`))
      .finally(() => {
        busy = null;
      });
  };
  // A request written before a restart is taken up now.
  if (readRequest(layout)) schedule();

  return {
    instanceId,
    done,
    async stop() {
      await busy;
      await Promise.all([agent?.stop(), trials.stop(90_000, 'SIGTERM')]);
    },
  };
}
