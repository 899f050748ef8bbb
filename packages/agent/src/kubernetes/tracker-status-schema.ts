// A tracker's `.status` (see tracker-status.ts) as a JSON Schema, for the CRD generator
// (scripts/generate-drift-crd.ts) only: it builds on the protocol's TypeBox schemas, which the agent
// itself never loads.
import { TrackerLocalVersion, TrackerRemoteVersion } from '@flotilla/protocol';

const str = (description?: string) => ({ type: 'string', ...(description ? { description } : {}) });
const int = (description?: string) => ({ type: 'integer', ...(description ? { description } : {}) });
export const TrackerStatusSchema = {
  type: 'object',
  properties: {
    id: str('the subject: spec.name'),
    namespace: str(),
    totalResourceCount: int('objects that gave a version'),
    uniqVersions: { type: 'array', items: str() },
    versions: {
      type: 'array',
      items: {
        type: 'object',
        properties: { version: str(), resourceCount: int(), resourceKind: str(), extractedFrom: str() },
        required: ['version', 'resourceCount', 'resourceKind', 'extractedFrom'],
      },
    },
    localVersion: TrackerLocalVersion,
    remoteVersion: TrackerRemoteVersion,
    error: str('why the tracker could not be evaluated'),
    note: str('objects that gave no version, and why'),
    observedGeneration: int(),
  },
} as const;
