import type { DriftVersionResolution } from '@flotilla/protocol';
import type { Gauge } from 'prom-client';
import type { Snapshot } from './metrics.ts';
import type { RunningVersion, UpstreamReference } from './store.ts';

// Opvic's control-plane metric names and labels, behind --drift-opvic-metrics, so dashboards built on
// Opvic keep working. Its version lists in labels churn series at every release, hence the option.

export type GaugeMaker = <L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
  fill: (g: Gauge<L>, s: Snapshot) => void,
) => Gauge<L>;

/** Opvic's control-plane metrics, with its label names, so existing dashboards keep working. */
export function registerOpvicMetrics(
  gauge: GaugeMaker,
  remaining: (u: { rate_limit: string | null }) => number | undefined,
) {
  const common = [
    'version_id',
    'agent_id',
    'running_version',
    'remote_provider',
    'remote_repo',
    'latest_version',
  ] as const;
  const each = (
    s: Snapshot,
    fn: (
      labels: Record<(typeof common)[number], string>,
      v: RunningVersion,
      r: DriftVersionResolution | undefined,
    ) => void,
  ) => {
    for (const row of s.rows) {
      const upstream = row.upstream === null ? null : (JSON.parse(row.upstream) as UpstreamReference);
      const resolution = row.resolution === null ? [] : (JSON.parse(row.resolution) as DriftVersionResolution[]);
      for (const v of JSON.parse(row.versions) as RunningVersion[]) {
        const labels = {
          version_id: row.subject,
          agent_id: row.place,
          running_version: v.runningVersion,
          remote_provider: upstream?.provider ?? '',
          remote_repo: upstream?.repo ?? '',
          latest_version: row.latest ?? 'missing',
        };
        fn(
          labels,
          v,
          resolution.find((r) => r.runningVersion === v.runningVersion),
        );
      }
    }
  };
  gauge(
    'opvic_controlplane_version_resource_count',
    'Resources running each version (Opvic name)',
    [...common, 'resource_kind', 'extracted_from'],
    (g, s) =>
      each(s, (labels, v) =>
        g.inc(
          { ...labels, resource_kind: v.resourceKind ?? '', extracted_from: v.extractedFrom ?? '' },
          v.resourceCount,
        ),
      ),
  );
  for (const [kind, list] of [
    ['major', 'availableMajors'],
    ['minor', 'availableMinors'],
    ['patch', 'availablePatches'],
  ] as const) {
    gauge(
      `opvic_controlplane_${kind}_versions_count`,
      `Newer ${kind} versions available (Opvic name)`,
      [...common, `available_${kind}_versions`],
      (g, s) =>
        each(s, (labels, _v, r) => {
          if (!r || labels.latest_version === 'missing') return;
          g.set(
            { ...labels, [`available_${kind}_versions`]: r[list].join(',') } as Record<string, string>,
            r[list].length,
          );
        }),
    );
  }
  gauge(
    'opvic_controlplane_agent_last_heartbeat',
    'Last report of each agent, as a Unix time (Opvic name)',
    ['agent_id', 'tags'],
    (g, s) => {
      for (const h of s.heartbeats) {
        const tags = Object.entries(JSON.parse(h.tags) as Record<string, string>)
          .map(([k, v]) => `${k}=${v}`)
          .join(',');
        g.set({ agent_id: h.place, tags }, Math.floor(h.at / 1000));
      }
    },
  );
  gauge('opvic_provider_github_rate_limit_remaining', 'GitHub requests left in the quota (Opvic name)', [], (g, s) => {
    const values = s.upstreams
      .filter((u) => u.key.startsWith('github:'))
      .map(remaining)
      .filter((v) => v !== undefined);
    if (values.length > 0) g.set(Math.min(...values));
  });
}
