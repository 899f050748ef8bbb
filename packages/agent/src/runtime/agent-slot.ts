// The supervisor the update transaction sees for the agent's own service: the version this process
// runs is started and stopped in-process; any other version runs as a trial child, told by its status
// file whether it is healthy and by SIGUSR2 to leave the services running when it stops.
import { rmSync } from 'node:fs';
import type {
  AgentSupervisor,
  RestartPolicy,
  RunSpec,
  ServiceSupervisor,
  SupervisorStatus,
} from '../supervisor/types.ts';

export interface AgentSlotOptions {
  ownVersion: string;
  /** Runs trial versions. */
  trials: AgentSupervisor;
  /** Variables every trial gets: the agent's settings. */
  trialEnv: Record<string, string>;
  /** Where `version` says it is healthy. */
  statusFileOf(version: string): string;
  /** Starts the agent proper in this process; it writes `statusFile` once it has reached the server. */
  startOwn(statusFile: string): void;
  /** Stops the agent proper, leaving its services running. */
  stopOwn(): Promise<void>;
}

export class AgentSlot implements ServiceSupervisor {
  readonly #opts: AgentSlotOptions;
  #ownSince: string | null = null;

  constructor(opts: AgentSlotOptions) {
    this.#opts = opts;
  }

  /** Starts the agent proper of this process's own version. */
  startOwnVersion(): void {
    const statusFile = this.#opts.statusFileOf(this.#opts.ownVersion);
    rmSync(statusFile, { force: true });
    this.#ownSince = new Date().toISOString();
    this.#opts.startOwn(statusFile);
  }

  start(spec: RunSpec, policy?: Partial<RestartPolicy>): void {
    const version = spec.version ?? '';
    if (version === this.#opts.ownVersion) {
      this.startOwnVersion();
      return;
    }
    const statusFile = this.#opts.statusFileOf(version);
    rmSync(statusFile, { force: true });
    this.#opts.trials.start(
      {
        ...spec,
        env: {
          ...spec.env,
          ...this.#opts.trialEnv,
          FLOTILLA_AGENT_WORKER: '1',
          FLOTILLA_AGENT_VERSION: version,
          FLOTILLA_AGENT_STATUS_FILE: statusFile,
        },
      },
      policy,
    );
  }

  /** The agent proper detaches; a trial is asked (SIGUSR2) to leave its services to the next agent. */
  async stop(graceMs?: number, signal: NodeJS.Signals = 'SIGUSR2'): Promise<void> {
    if (this.#ownSince !== null) {
      this.#ownSince = null;
      await this.#opts.stopOwn();
    }
    await this.#opts.trials.stop(graceMs ?? 60_000, signal);
  }

  status(): SupervisorStatus {
    if (this.#ownSince === null) return this.#opts.trials.status();
    return {
      state: 'running',
      pid: process.pid,
      startedAt: this.#ownSince,
      failureCount: 0,
      lastExitCode: null,
      lastSignal: null,
    };
  }

  onExit(listener: Parameters<ServiceSupervisor['onExit']>[0]): () => void {
    return this.#opts.trials.onExit(listener);
  }

  tail(n: number): string[] {
    return this.#opts.trials.tail(n);
  }
}
