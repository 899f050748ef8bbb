// Self-update: the agent is the service `flotilla-agent`. The agent proper writes the desired version of
// itself as a request; agent-process.ts runs the same journaled transaction on it, health-gates the new
// version on its status file, and brings the old one back if not.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentDesiredService, AgentServiceReport, InstallManifest } from '@flotilla/protocol';
import type { AgentLayout } from '../layout.ts';
import { failedVersionMessage, readFailedVersion, writeFileAtomic } from '../update/state.ts';

export const agentServiceName = 'flotilla-agent';
/** The version directory of the agent that came with the installed `flotilla` command. */
export const builtinVersion = 'builtin';
/** Written by an agent, relative to its version directory, once it has reached the server. */
export const agentStatusFile = 'status.json';

export interface SelfUpdateRequest {
  version: string;
  signedManifest: string;
  signature: string;
}

export const selfUpdatePaths = (layout: AgentLayout) => ({
  request: join(layout.root, 'self-update', 'request.json'),
});

/** The manifest of the built-in agent: the installed command, held to its status file. */
export function builtinManifest(agentCommand: string[]): InstallManifest {
  const [command, ...args] = agentCommand;
  if (!command) throw new Error('the agent command is empty');
  return {
    run: { command, args },
    restart: { onFault: true },
    health: { statusFile: { path: agentStatusFile }, startupWindowSec: 1, timeoutSec: 60 },
  };
}

/** The agent proper's side: what to do about the desired `flotilla-agent` entry, and how to report it. */
export class SelfUpdateClient {
  readonly #layout: AgentLayout;
  readonly #running: string;

  constructor(layout: AgentLayout, runningVersion: string) {
    this.#layout = layout;
    this.#running = runningVersion;
  }

  /** Asks for `target` unless it runs already or failed before. Returns true when asked. */
  request(target: AgentDesiredService): boolean {
    if (target.version === this.#running) return false;
    if (readFailedVersion(this.#layout.service(agentServiceName))?.version === target.version) return false;
    const file = selfUpdatePaths(this.#layout).request;
    const request: SelfUpdateRequest = {
      version: target.version,
      signedManifest: target.signedManifest,
      signature: target.signature,
    };
    writeFileAtomic(file, JSON.stringify(request));
    return true;
  }

  report(desired: string | null): AgentServiceReport {
    const report: AgentServiceReport = {
      service: agentServiceName,
      version: this.#running,
      state: 'running',
      failureCount: 0,
    };
    const failed = readFailedVersion(this.#layout.service(agentServiceName));
    if (failed && failed.version === desired) report.updateError = failedVersionMessage(failed).slice(0, 1024);
    else if (desired && desired !== this.#running && existsSync(selfUpdatePaths(this.#layout).request)) {
      report.state = 'updating';
      report.targetVersion = desired;
    }
    return report;
  }

  /** Says (to the health gate) that this agent is up and reaches the server. */
  markHealthy(statusFile: string | undefined): void {
    if (statusFile) writeFileAtomic(statusFile, JSON.stringify({ status: 'ok', pid: process.pid }));
  }

  static clearStatus(statusFile: string | undefined): void {
    if (statusFile) rmSync(statusFile, { force: true });
  }
}

export function readRequest(layout: AgentLayout): SelfUpdateRequest | null {
  const file = selfUpdatePaths(layout).request;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SelfUpdateRequest;
  } catch {
    return null;
  }
}
