import type { VersionSummary } from '@flotilla/protocol';
import { nameOf } from './client-version.ts';
import type { VersionSummaryRow } from './store.ts';

/** A version as the API lists it, from its row: a client version with what made it. */
export function toVersionSummary(r: VersionSummaryRow): VersionSummary {
  return {
    service: r.service,
    version: r.version,
    digest: r.digest,
    size: r.size,
    notes: r.notes,
    author: r.author,
    createdAt: r.created_at,
    kind: r.kind === 'client' ? 'client' : 'developer',
    name: nameOf(r.version),
    ...(r.kind === 'client'
      ? {
          client: {
            developerVersion: r.developer_version ?? '',
            generation: r.generation ?? 0,
            inputs: r.client_inputs ?? '',
            settings: (JSON.parse(r.settings ?? '[]') as { name: string; url: string; commit: string }[]).map((x) => ({
              name: x.name,
              url: x.url,
              commit: x.commit,
            })),
            ...(r.consumer ? { consumer: r.consumer } : {}),
          },
        }
      : {}),
  };
}
