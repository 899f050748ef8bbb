// `flotilla drift-agent`: the tracker evaluation wired to the reporter, with the cluster's credentials
// (in-cluster service account, or a kubeconfig file). The CLI parses options and handles signals.
import { existsSync } from 'node:fs';
import {
  DriftAgentConfigError,
  inClusterConfig,
  type KubeConfig,
  kubeconfigFile,
  serviceAccountDir,
} from './kube-config.ts';
import { startReporter } from './reporter.ts';
import { type DriftLog, startDriftAgent } from './trackers.ts';

export { DriftAgentConfigError };

export interface DriftAgentRunOptions {
  server: string;
  token: string;
  /** The cluster's id in reports (Opvic's --identifier). */
  identifier: string;
  tags?: Record<string, string>;
  /** A kubeconfig file; otherwise the in-cluster service account. Or a ready KubeConfig (tests). */
  kubeconfig?: string | KubeConfig;
  /** The kubeconfig's context to use (default: its current-context). */
  context?: string;
  heartbeatMs?: number;
  /** Debounce before a report (default 750 ms, after the evaluation's 250 ms). */
  reportDebounceMs?: number;
  log?: DriftLog;
}

export interface RunningDriftAgent {
  /** Stops the watches, then sends the pending report (bounded by timeoutMs). */
  stop(timeoutMs?: number): Promise<void>;
}

export async function loadKubeConfig(kubeconfig: string | undefined, context?: string): Promise<KubeConfig> {
  if (kubeconfig) return kubeconfigFile(kubeconfig, context);
  if (!process.env.KUBERNETES_SERVICE_HOST || !existsSync(`${serviceAccountDir}/token`)) {
    throw new DriftAgentConfigError(
      'not running in a cluster (no KUBERNETES_SERVICE_HOST or service account token): pass --kubeconfig <file>',
    );
  }
  try {
    return inClusterConfig();
  } catch (error) {
    throw new DriftAgentConfigError(`service account: ${(error as Error).message}`);
  }
}

export async function runDriftAgent(options: DriftAgentRunOptions): Promise<RunningDriftAgent> {
  const kubeConfig =
    typeof options.kubeconfig === 'object'
      ? options.kubeconfig
      : await loadKubeConfig(options.kubeconfig, options.context);
  const log: DriftLog = options.log ?? (() => {});
  const reporter = startReporter({
    server: options.server,
    token: options.token,
    agentId: options.identifier,
    ...(options.tags ? { tags: options.tags } : {}),
    ...(options.heartbeatMs ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.reportDebounceMs !== undefined ? { debounceMs: options.reportDebounceMs } : {}),
    log,
  });
  const agent = await startDriftAgent({
    kubeConfig,
    log,
    onSubjects: (subjects) => {
      log('info', `${subjects.length} subject(s) changed, reporting`);
      reporter.update(subjects);
    },
  });
  void agent.ready.then(() => log('info', `watching ${agent.subjects().length} tracker(s)`));
  return {
    async stop(timeoutMs = 10_000) {
      await agent.stop();
      await reporter.close(timeoutMs);
    },
  };
}
