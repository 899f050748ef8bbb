// Keeps a local cache of one tracked kind: a chunked list, then a watch resumed from the last
// resourceVersion (bookmarks move it), a re-list only on 410 Gone; failures retry with backoff. The
// same protocol as client-go's reflector, on the agent's own small client (kube-client.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import type { TrackedKind } from './image-ref.ts';
import { KubeApiError, type KubernetesObject, kubeClient } from './kube-client.ts';
import type { KubeConfig } from './kube-config.ts';
import { type LabelSelector, labelSelectorString } from './label-selector.ts';

/** Where a kind lives in the API. */
export interface KindResource extends WatchedResource {
  apiPath: '/api/v1' | '/apis/apps/v1' | '/apis/batch/v1';
  kind: string;
}

/** Any listable resource: its API path (`/apis/<group>/<version>`), plural and scope. */
export interface WatchedResource {
  apiPath: string;
  plural: string;
  namespaced: boolean;
}

const kind = (apiPath: KindResource['apiPath'], plural: string, name: string, namespaced = true): KindResource => ({
  apiPath,
  plural,
  kind: name,
  namespaced,
});

export const KIND_RESOURCES: Record<TrackedKind, KindResource> = {
  Pods: kind('/api/v1', 'pods', 'Pod'),
  Nodes: kind('/api/v1', 'nodes', 'Node', false),
  Deployments: kind('/apis/apps/v1', 'deployments', 'Deployment'),
  DaemonSets: kind('/apis/apps/v1', 'daemonsets', 'DaemonSet'),
  StatefulSets: kind('/apis/apps/v1', 'statefulsets', 'StatefulSet'),
  ReplicaSets: kind('/apis/apps/v1', 'replicasets', 'ReplicaSet'),
  CronJobs: kind('/apis/batch/v1', 'cronjobs', 'CronJob'),
  Jobs: kind('/apis/batch/v1', 'jobs', 'Job'),
};

export interface WatchKindOptions extends WatchResourceOptions {
  kind: TrackedKind;
}

export interface WatchResourceOptions {
  kubeConfig: KubeConfig;
  /** Empty or absent: every namespace (ignored for Nodes, which have none). */
  namespaces?: readonly string[];
  selector?: LabelSelector;
  /** Called (debounced) after objects of the cache were added, changed or removed; not for the first list. */
  onChange: () => void;
  /** A failed list or watch; it is retried with backoff (1 s doubling to 30 s). */
  onError?: (error: unknown) => void;
  debounceMs?: number;
  /** Objects per list page (the API's `limit`); 500 like client-go. */
  pageSize?: number;
  /**
   * Shrinks each object before it is cached (listed or watched), to hold only what is read. It must keep
   * metadata.name, namespace and resourceVersion, which the cache and the resume need.
   */
  transform?: (object: KubernetesObject) => KubernetesObject;
}

export interface KindWatch {
  /** Resolves once every namespace has been listed; its watch starts right after (never, if stopped before). */
  readonly synced: Promise<void>;
  /** The cached objects, as the API server returned them. */
  list(): KubernetesObject[];
  /** Ends every watch and retry; nothing reconnects afterwards. */
  stop(): Promise<void>;
}

export type { KubernetesObject };

/** Server-side watch timeout, spread like client-go's (5-10 min) so watches do not all renew at once. */
const watchTimeoutSeconds = () => 300 + Math.floor(Math.random() * 300);
const keyOf = (o: KubernetesObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
const gone = (error: unknown) => error instanceof KubeApiError && error.code === 410;

export async function watchKind(options: WatchKindOptions): Promise<KindWatch> {
  const resource = KIND_RESOURCES[options.kind];
  if (!resource) throw new Error(`unknown kind ${JSON.stringify(options.kind)}`);
  return watchResource(resource, options);
}

/** Like watchKind, for any resource (the VersionTracker custom resources). */
export async function watchResource(resource: WatchedResource, options: WatchResourceOptions): Promise<KindWatch> {
  const client = kubeClient(options.kubeConfig);
  const labelSelector = labelSelectorString(options.selector) || undefined;
  const pageSize = options.pageSize ?? 500;
  const debounceMs = options.debounceMs ?? 250;
  const shrink = options.transform;
  const namespaces =
    resource.namespaced && options.namespaces && options.namespaces.length > 0
      ? [...new Set(options.namespaces)]
      : [undefined];
  const abort = new AbortController();
  let debounce: NodeJS.Timeout | undefined;
  const changed = () => {
    if (abort.signal.aborted || debounce) return;
    debounce = setTimeout(() => {
      debounce = undefined;
      if (!abort.signal.aborted) options.onChange();
    }, debounceMs);
  };

  /** Every page of a chunked list into the cache; returns the list's (snapshot) resourceVersion. */
  async function relist(path: string, cache: Map<string, KubernetesObject>, announce: boolean): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const fresh = new Map<string, KubernetesObject>();
      let resourceVersion: string | undefined;
      let cont: string | undefined;
      try {
        do {
          const query = { limit: pageSize, labelSelector, continue: cont };
          const page = await client.list(path, query, shrink);
          resourceVersion ??= page.resourceVersion;
          for (const item of page.items) fresh.set(keyOf(item), item);
          cont = page.continue;
        } while (cont);
      } catch (error) {
        // An expired continue token (410): the snapshot is gone, start the list again.
        if (cont && gone(error) && attempt < 3) continue;
        throw error;
      }
      let differs = fresh.size !== cache.size;
      for (const [key, object] of fresh) {
        if (differs) break;
        differs = cache.get(key)?.metadata?.resourceVersion !== object.metadata?.resourceVersion;
      }
      cache.clear();
      for (const [key, object] of fresh) cache.set(key, object);
      if (differs && announce) changed();
      return resourceVersion;
    }
  }

  /** List, then watch from where the cache is; again after each end, failure or 410. */
  async function follow(path: string, cache: Map<string, KubernetesObject>, markSynced: () => void): Promise<void> {
    let resourceVersion: string | undefined;
    let synced = false;
    let failures = 0;
    while (!abort.signal.aborted) {
      let events = 0;
      const started = Date.now();
      try {
        if (resourceVersion === undefined) {
          resourceVersion = await relist(path, cache, synced);
          failures = 0;
          if (!synced) markSynced();
          synced = true;
        }
        const query = {
          resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: watchTimeoutSeconds(),
          labelSelector,
        };
        await client.watch(
          path,
          query,
          ({ type, object }) => {
            if (type === 'ERROR') throw new KubeApiError(Number(object.code) || 500, object, `watch ${path}`);
            events++;
            if (object.metadata?.resourceVersion) resourceVersion = object.metadata.resourceVersion;
            if (type === 'BOOKMARK') return;
            if (type === 'DELETED') cache.delete(keyOf(object));
            else cache.set(keyOf(object), shrink ? shrink(object) : object);
            changed();
          },
          abort.signal,
        );
        failures = 0;
        // A watch the server ends at once, with nothing in it, is not retried in a tight loop.
        if (events === 0 && Date.now() - started < 1000) await sleep(1000, undefined, { signal: abort.signal });
      } catch (error) {
        if (abort.signal.aborted) return;
        if (gone(error)) {
          resourceVersion = undefined;
          continue;
        }
        options.onError?.(error);
        try {
          await sleep(Math.min(1000 * 2 ** failures++, 30_000), undefined, { signal: abort.signal });
        } catch {
          return;
        }
      }
    }
  }

  const caches: Map<string, KubernetesObject>[] = [];
  const syncs: Promise<void>[] = [];
  const loops: Promise<void>[] = [];
  for (const namespace of namespaces) {
    const path = namespace
      ? `${resource.apiPath}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}`
      : `${resource.apiPath}/${resource.plural}`;
    const cache = new Map<string, KubernetesObject>();
    caches.push(cache);
    let markSynced: () => void = () => {};
    syncs.push(
      new Promise<void>((resolve) => {
        markSynced = resolve;
      }),
    );
    loops.push(follow(path, cache, markSynced).catch(() => {}));
  }

  return {
    synced: Promise.all(syncs).then(() => undefined),
    list: () => caches.flatMap((cache) => [...cache.values()]),
    async stop() {
      abort.abort();
      clearTimeout(debounce);
      await Promise.all(loops);
    },
  };
}
