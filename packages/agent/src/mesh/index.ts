// The standalone mesh node, loaded by `flotilla mesh` only when it runs (the agent and the rest of the
// CLI never load it otherwise).

export type * from './contracts.ts';
export { type ApiSample, MAX_SAMPLES } from './mesh-api.ts';
export { bearerChecker, generateToken } from './mesh-api-auth.ts';
export {
  MeshJoinRefused,
  type MeshLog,
  type MeshLogLevel,
  type MeshNode,
  type MeshNodeOptions,
  startMeshNode,
} from './node.ts';
export { loadMeshTls, MeshConfigError, type MeshTls, type MeshTlsInput, type MeshTlsMode } from './tls.ts';
export { MESSAGES_PATH, type MeshTransport, startTransport } from './transport.ts';
export { InvalidMessage, parseMeshMessage } from './transport-validate.ts';
