// The agent's mesh calls, with its instance credential: the environment's peers, a certificate for
// the node's key, and the node's per-minute summaries. Types from the protocol only (no runtime import).
import type { MeshCertificate, MeshPeers, MeshSummaryAnswer, MeshSummaryReport } from '@flotilla/protocol';
import { type AgentApi, errorOf } from '../runtime/api.ts';
import { httpRequest } from '../runtime/http-request.ts';

export interface FleetMeshClient {
  peers(signal?: AbortSignal): Promise<MeshPeers>;
  certificate(publicKey: string, address: string, signal?: AbortSignal): Promise<MeshCertificate>;
  summaries(report: MeshSummaryReport, signal?: AbortSignal): Promise<MeshSummaryAnswer>;
}

/** A peer list of 2,000 nodes fits easily. */
const maxAnswerBytes = 2 * 1024 * 1024;

export function fleetMeshClient(api: AgentApi): FleetMeshClient {
  const call = async <T>(what: string, path: string, json: unknown, signal?: AbortSignal): Promise<T> => {
    const headers: Record<string, string> = { authorization: `Bearer ${await api.credential(signal)}` };
    const res = await httpRequest(`${api.url}${path}`, {
      ...(json === undefined ? {} : { method: 'POST', json }),
      headers,
      timeoutMs: 30_000,
      ...(signal ? { signal } : {}),
    });
    if (!res.ok) throw await errorOf(res, what);
    return res.json<T>(maxAnswerBytes);
  };
  return {
    peers: (signal) => call<MeshPeers>('mesh peers', '/api/v1/agent/mesh/peers', undefined, signal),
    certificate: (publicKey, address, signal) =>
      call<MeshCertificate>('mesh certificate', '/api/v1/agent/mesh/certificate', { publicKey, address }, signal),
    summaries: (report, signal) =>
      call<MeshSummaryAnswer>('mesh summaries', '/api/v1/agent/mesh/summaries', report, signal),
  };
}
