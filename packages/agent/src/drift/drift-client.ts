// The drift calls of the host agent, with its instance credential: the signed tracker set of its
// environment (ETag, so an idle poll is a 304) and the batch report of what the host runs.
import type { DriftReport } from '@flotilla/protocol';
import { type AgentApi, errorOf } from '../runtime/api.ts';
import { httpRequest } from '../runtime/http-request.ts';
import type { SignedTrackerSet } from './tracker-set.ts';

export type TrackerAnswer = { changed: false } | { changed: true; set: SignedTrackerSet; etag: string | null };

export interface DriftTransport {
  trackers(etag: string | null, signal?: AbortSignal): Promise<TrackerAnswer>;
  report(report: DriftReport, signal?: AbortSignal): Promise<void>;
}

/** A signed set of 200 trackers of 16 KiB each fits with room to spare. */
const maxSetBytes = 8 * 1024 * 1024;

export function driftTransport(api: AgentApi): DriftTransport {
  const auth = async (signal?: AbortSignal) => `Bearer ${await api.credential(signal)}`;
  return {
    async trackers(etag, signal) {
      const headers: Record<string, string> = { authorization: await auth(signal) };
      if (etag) headers['if-none-match'] = etag;
      const res = await httpRequest(`${api.url}/api/v1/agent/drift/trackers`, {
        headers,
        timeoutMs: 30_000,
        ...(signal ? { signal } : {}),
      });
      if (res.status === 304) {
        res.discard();
        return { changed: false };
      }
      if (!res.ok) throw await errorOf(res, 'host trackers');
      return { changed: true, set: await res.json<SignedTrackerSet>(maxSetBytes), etag: res.header('etag') };
    },
    async report(report, signal) {
      const res = await httpRequest(`${api.url}/api/v1/drift/reports`, {
        method: 'POST',
        headers: { authorization: await auth(signal), 'content-type': 'application/json' },
        json: report,
        timeoutMs: 60_000,
        ...(signal ? { signal } : {}),
      });
      if (!res.ok) throw await errorOf(res, 'drift report');
      res.discard();
    },
  };
}
