export * from './journal/journal.ts';
export * from './layout.ts';
export * from './logs/line-buffer.ts';
export * from './logs/log-line.ts';
export { type AgentHooks, type AgentLogger, type RunningAgent, startAgent } from './runtime/agent.ts';
export {
  type AgentProcess,
  type AgentProcessOptions,
  handOverExitCode,
  runAgentProcess,
} from './runtime/agent-process.ts';
export { AgentApi, ApiError } from './runtime/api.ts';
export {
  type AgentConfig,
  AgentConfigError,
  type AgentOptions,
  agentOptionTable,
  resolveAgentConfig,
} from './runtime/config.ts';
export { agentServiceName } from './runtime/self-update.ts';
export { installService, type ServiceInstallOptions, unitText } from './runtime/systemd.ts';
export * from './supervisor/process-supervisor.ts';
export * from './supervisor/types.ts';
export { downloadArtifact, type ServerAccess } from './update/download.ts';
export { type RecoveryResult, recoverAll, recoverService } from './update/recover.ts';
export { readFailedVersion, shouldAttempt } from './update/state.ts';
export {
  type RunUpdateOptions,
  runUpdate,
  UpdateRefused,
  type UpdateResult,
  type UpdateTarget,
} from './update/transaction.ts';
export { type UnpackLimits, UnsafeArchiveError, unpackArchive } from './update/unpack.ts';
export {
  canonicalJson,
  keyIdOf,
  type TrustedKey,
  VerificationError,
  type VerifiedManifest,
  verifySignedManifest,
} from './update/verify.ts';
