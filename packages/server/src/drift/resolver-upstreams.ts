import type { DriftUpstreamConfig } from '../config/drift-upstreams.ts';
import type { RunningVersion, UpstreamReference } from './store.ts';
import type { UpstreamPolicy } from './upstream-policy.ts';
import { endOfLifeProvider } from './upstreams/endoflife.ts';
import { UpstreamError } from './upstreams/fetcher.ts';
import { githubProvider } from './upstreams/github.ts';
import { gitlabProvider } from './upstreams/gitlab.ts';
import { helmProvider } from './upstreams/helm.ts';
import { chartImage, helmOciProvider } from './upstreams/helm-oci.ts';
import { npmProvider } from './upstreams/npm.ts';
import { ociProvider, parseImage, registryBaseUrl } from './upstreams/oci.ts';
import type { ConditionalState, ListResult } from './upstreams/types.ts';

/** One upstream a row is compared with: its cache key, and how to fetch its list. */
export interface UpstreamTarget {
  key: string;
  /** `github`, `helm`, `helm-oci`, `oci`, …: the key's prefix, a bounded metric label. */
  provider: string;
  /** For upstreams an agent names (not a configured base URL): the URL the policy checks first. */
  checkUrl?: URL;
  list(state: ConditionalState): Promise<ListResult>;
}

export type TargetOf = (upstream: UpstreamReference | null, versions: RunningVersion[]) => UpstreamTarget | null;

const providerOf = (key: string) => key.slice(0, key.indexOf(':'));

function required(value: string | undefined, provider: string, field: string): string {
  if (!value) throw new UpstreamError('unsupported', provider, `remoteVersion.${field} is required for ${provider}`);
  return value;
}

/**
 * Builds the providers from the server's options and maps a row's upstream reference to a target:
 * `remoteVersion` when there is one, else (an ImageTag tracker) the tags of the image it runs.
 * Throws an `UpstreamError` when the reference cannot name an upstream (no repo, a bad image).
 */
export function upstreamTargets(config: DriftUpstreamConfig, policy: UpstreamPolicy): TargetOf {
  const guard = (url: URL) => policy.check(url);
  const github = githubProvider(config.github);
  const gitlab = gitlabProvider(config.gitlab);
  const npm = npmProvider(config.npm);
  const endoflife = endOfLifeProvider(config.endoflifeUrl ? { baseUrl: config.endoflifeUrl } : {});
  const helm = helmProvider({ guard });
  const oci = ociProvider({ registries: config.registries, guard });
  const helmOci = helmOciProvider({ registries: config.registries, guard });
  const registryUrl = (image: string) => new URL(registryBaseUrl(parseImage(image).host, config.registries));

  const target = <R>(
    p: { key(r: R): string; list(r: R, s: ConditionalState): Promise<ListResult> },
    ref: R,
    checkUrl?: URL,
  ): UpstreamTarget => {
    const key = p.key(ref);
    return { key, provider: providerOf(key), ...(checkUrl ? { checkUrl } : {}), list: (s) => p.list(ref, s) };
  };

  return (upstream, versions) => {
    if (!upstream) {
      const image = versions.find((v) => typeof v.image === 'string' && v.image !== '')?.image;
      return image ? target(oci, { image }, registryUrl(image)) : null;
    }
    const name = upstream.provider;
    switch (name) {
      case 'github':
      case 'gitlab': {
        const repo = required(upstream.repo, name, 'repo');
        const kind = upstream.strategy === 'tags' ? 'tags' : 'releases';
        return name === 'github' ? target(github, { repo, kind }) : target(gitlab, { project: repo, kind });
      }
      case 'helm': {
        const repo = required(upstream.repo, name, 'repo');
        const chart = required(upstream.chart, name, 'chart');
        const strategy = upstream.strategy === 'appVersion' ? 'appVersion' : 'chartVersion';
        if (repo.startsWith('oci://')) {
          return target(helmOci, { repo, chart, strategy }, registryUrl(chartImage({ repo, chart })));
        }
        let url: URL;
        try {
          url = new URL(repo);
        } catch {
          throw new UpstreamError('unsupported', repo, 'remoteVersion.repo is not a URL');
        }
        return target(helm, { repo, chart, strategy }, url);
      }
      case 'oci': {
        const image = required(upstream.repo, name, 'repo');
        return target(oci, { image }, registryUrl(image));
      }
      case 'npm':
        return target(npm, { name: required(upstream.repo, name, 'repo') });
      case 'endoflife':
        return target(endoflife, { product: required(upstream.repo, name, 'repo') });
      default:
        throw new UpstreamError('unsupported', name, `provider "${name}" is not one the server reads`);
    }
  };
}
