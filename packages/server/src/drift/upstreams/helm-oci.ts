import { UpstreamError } from './fetcher.ts';
import { type OciOptions, ociProvider, parseImage } from './oci.ts';
import type { ConditionalState, ListResult, UpstreamProvider } from './types.ts';

export interface HelmOciRef {
  /** `oci://registry.example.com/charts` (the chart's parent path). */
  repo: string;
  chart: string;
  strategy: 'chartVersion' | 'appVersion';
}

/** The image reference of a chart in an OCI registry: `oci://host/path` + `chart` → `host/path/chart`. */
export function chartImage(ref: Pick<HelmOciRef, 'repo' | 'chart'>): string {
  if (!ref.repo.startsWith('oci://')) throw new UpstreamError('unsupported', ref.repo, 'not an oci:// repository');
  const path = ref.repo.slice('oci://'.length).replace(/\/+$/, '');
  const image = `${path}/${ref.chart}`;
  // Helm names the registry explicitly; parseImage would read `charts/x` as a Docker Hub image.
  const host = path.split('/')[0] ?? '';
  if (!host.includes('.') && !host.includes(':') && host !== 'localhost') {
    throw new UpstreamError('unsupported', ref.repo, `"${host}" is not a registry host`);
  }
  parseImage(image);
  return image;
}

/**
 * Charts in OCI registries: each tag of the chart's repository is a chart version. Helm writes `+` as
 * `_` in tags (a tag cannot hold `+`), so it is turned back. The app version is in each manifest's
 * config, one request per version, so only `chartVersion` is read.
 */
export function helmOciProvider(options: OciOptions = {}): UpstreamProvider<HelmOciRef> {
  const oci = ociProvider(options);
  return {
    key: (ref) => `helm-oci:${oci.key({ image: chartImage(ref) }).slice('oci:'.length)}`,
    async list(ref: HelmOciRef, state: ConditionalState): Promise<ListResult> {
      if (ref.strategy !== 'chartVersion') {
        throw new UpstreamError('unsupported', ref.repo, 'charts in OCI registries are compared by chartVersion only');
      }
      const result = await oci.list({ image: chartImage(ref) }, state);
      if (result.notModified) return result;
      return { ...result, versions: result.versions.map((v) => ({ ...v, version: v.version.replaceAll('_', '+') })) };
    },
  };
}
