// Keeps a local cache of one tracked kind with @kubernetes/client-node's ListWatch: a (chunked) list,
// then a watch resumed from the last resourceVersion, a re-list only on 410 Gone. The library is an
// optional peer dependency, loaded on first use so the host agent never loads it.
import type { KubeConfig, KubernetesListObject, KubernetesObject, ListWatch } from '@kubernetes/client-node';
import type { TrackedKind } from './image-ref.ts';
import { type LabelSelector, labelSelectorString } from './label-selector.ts';

type Client = typeof import('@kubernetes/client-node');
type List = KubernetesListObject<KubernetesObject>;
interface ListQuery {
  labelSelector?: string;
  limit: number;
  _continue?: string;
}
type ListPage = (client: Client, config: KubeConfig, namespace: string | undefined, query: ListQuery) => Promise<List>;

/** Where a kind lives in the API, and the generated client calls that list it. */
export interface KindResource {
  apiPath: '/api/v1' | '/apis/apps/v1' | '/apis/batch/v1';
  plural: string;
  kind: string;
  namespaced: boolean;
  list: ListPage;
}

const apps = (client: Client, config: KubeConfig) => config.makeApiClient(client.AppsV1Api);
const batch = (client: Client, config: KubeConfig) => config.makeApiClient(client.BatchV1Api);
const core = (client: Client, config: KubeConfig) => config.makeApiClient(client.CoreV1Api);

export const KIND_RESOURCES: Record<TrackedKind, KindResource> = {
  Pods: {
    apiPath: '/api/v1',
    plural: 'pods',
    kind: 'Pod',
    namespaced: true,
    list: (c, k, namespace, q) =>
      namespace ? core(c, k).listNamespacedPod({ namespace, ...q }) : core(c, k).listPodForAllNamespaces(q),
  },
  Nodes: {
    apiPath: '/api/v1',
    plural: 'nodes',
    kind: 'Node',
    namespaced: false,
    list: (c, k, _, q) => core(c, k).listNode(q),
  },
  Deployments: {
    apiPath: '/apis/apps/v1',
    plural: 'deployments',
    kind: 'Deployment',
    namespaced: true,
    list: (c, k, namespace, q) =>
      namespace
        ? apps(c, k).listNamespacedDeployment({ namespace, ...q })
        : apps(c, k).listDeploymentForAllNamespaces(q),
  },
  DaemonSets: {
    apiPath: '/apis/apps/v1',
    plural: 'daemonsets',
    kind: 'DaemonSet',
    namespaced: true,
    list: (c, k, namespace, q) =>
      namespace ? apps(c, k).listNamespacedDaemonSet({ namespace, ...q }) : apps(c, k).listDaemonSetForAllNamespaces(q),
  },
  StatefulSets: {
    apiPath: '/apis/apps/v1',
    plural: 'statefulsets',
    kind: 'StatefulSet',
    namespaced: true,
    list: (c, k, namespace, q) =>
      namespace
        ? apps(c, k).listNamespacedStatefulSet({ namespace, ...q })
        : apps(c, k).listStatefulSetForAllNamespaces(q),
  },
  ReplicaSets: {
    apiPath: '/apis/apps/v1',
    plural: 'replicasets',
    kind: 'ReplicaSet',
    namespaced: true,
    list: (c, k, namespace, q) =>
      namespace
        ? apps(c, k).listNamespacedReplicaSet({ namespace, ...q })
        : apps(c, k).listReplicaSetForAllNamespaces(q),
  },
  CronJobs: {
    apiPath: '/apis/batch/v1',
    plural: 'cronjobs',
    kind: 'CronJob',
    namespaced: true,
    list: (c, k, namespace, q) =>
      namespace ? batch(c, k).listNamespacedCronJob({ namespace, ...q }) : batch(c, k).listCronJobForAllNamespaces(q),
  },
  Jobs: {
    apiPath: '/apis/batch/v1',
    plural: 'jobs',
    kind: 'Job',
    namespaced: true,
    list: (c, k, namespace, q) =>
      namespace ? batch(c, k).listNamespacedJob({ namespace, ...q }) : batch(c, k).listJobForAllNamespaces(q),
  },
};

export interface WatchKindOptions {
  kubeConfig: KubeConfig;
  kind: TrackedKind;
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
}

export interface KindWatch {
  /** Resolves once every namespace has been listed and is being watched (never, if stopped before). */
  readonly synced: Promise<void>;
  /** The cached objects, as the API server returned them. */
  list(): KubernetesObject[];
  /** Ends every watch and retry; nothing reconnects afterwards. */
  stop(): Promise<void>;
}

let client: Promise<Client> | undefined;
/** Loads the optional peer dependency once, with a clear error when it is not installed. */
export function loadKubernetesClient(): Promise<Client> {
  client ??= import('@kubernetes/client-node').catch((error: unknown) => {
    client = undefined;
    throw new Error(
      'the Kubernetes agent needs the @kubernetes/client-node package: npm install @kubernetes/client-node',
      {
        cause: error,
      },
    );
  });
  return client;
}

const statusOf = (error: unknown) => (error as { code?: unknown } | null)?.code;

/** Every page of a chunked list, as one list carrying the first page's (snapshot) resourceVersion. */
async function listAllPages(page: (cont: string | undefined) => Promise<List>): Promise<List> {
  for (let attempt = 1; ; attempt++) {
    const first = await page(undefined);
    const items = [...first.items];
    let cont = first.metadata?._continue;
    try {
      while (cont) {
        const next = await page(cont);
        items.push(...next.items);
        cont = next.metadata?._continue;
      }
    } catch (error) {
      // An expired continue token (410): the snapshot is gone, start the list again.
      if (statusOf(error) === 410 && attempt < 3) continue;
      throw error;
    }
    return { ...first, metadata: { ...first.metadata, _continue: undefined }, items };
  }
}

export async function watchKind(options: WatchKindOptions): Promise<KindWatch> {
  const resource = KIND_RESOURCES[options.kind];
  if (!resource) throw new Error(`unknown kind ${JSON.stringify(options.kind)}`);
  const labelSelector = labelSelectorString(options.selector) || undefined;
  const k8s = await loadKubernetesClient();
  const config = options.kubeConfig;
  const pageSize = options.pageSize ?? 500;
  const debounceMs = options.debounceMs ?? 250;
  const namespaces =
    resource.namespaced && options.namespaces && options.namespaces.length > 0
      ? [...new Set(options.namespaces)]
      : [undefined];
  let stopped = false;
  let debounce: NodeJS.Timeout | undefined;
  const changed = () => {
    if (stopped || debounce) return;
    debounce = setTimeout(() => {
      debounce = undefined;
      if (!stopped) options.onChange();
    }, debounceMs);
  };

  /** The library's Watch, asking for bookmarks and refusing to connect once stopped. */
  class GuardedWatch extends k8s.Watch {
    onConnect: () => void = () => {};
    override async watch(
      path: string,
      query: Record<string, string | number | boolean | undefined>,
      callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
      done: (err: unknown) => void,
    ): Promise<AbortController> {
      if (stopped) {
        const aborted = new AbortController();
        aborted.abort();
        return aborted;
      }
      this.onConnect();
      return super.watch(path, { ...query, allowWatchBookmarks: true }, callback, done);
    }
  }

  const retries = new Set<NodeJS.Timeout>();
  const informers: ListWatch<KubernetesObject>[] = [];
  const syncs: Promise<void>[] = [];
  for (const namespace of namespaces) {
    const path = namespace
      ? `${resource.apiPath}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}`
      : `${resource.apiPath}/${resource.plural}`;
    let synced = false;
    let failures = 0;
    const watch = new GuardedWatch(config);
    syncs.push(
      new Promise<void>((resolve) => {
        // The first watch starts right after the first list has filled the cache.
        watch.onConnect = () => {
          synced = true;
          failures = 0;
          resolve();
        };
      }),
    );
    const query = (cont: string | undefined): ListQuery => ({
      limit: pageSize,
      ...(labelSelector ? { labelSelector } : {}),
      ...(cont ? { _continue: cont } : {}),
    });
    const listFn = () => listAllPages((cont) => resource.list(k8s, config, namespace, query(cont)));
    const informer = new k8s.ListWatch<KubernetesObject>(path, watch, listFn, false, labelSelector);
    const onObject = () => {
      if (synced) changed();
    };
    informer.on('add', onObject);
    informer.on('update', onObject);
    informer.on('delete', onObject);
    informer.on('error', (error: unknown) => {
      if (stopped) return;
      options.onError?.(error);
      const timer = setTimeout(
        () => {
          retries.delete(timer);
          if (!stopped) void informer.start().catch((err: unknown) => options.onError?.(err));
        },
        Math.min(1000 * 2 ** failures++, 30_000),
      );
      retries.add(timer);
    });
    informers.push(informer);
  }
  for (const informer of informers) void informer.start().catch((err: unknown) => options.onError?.(err));

  return {
    synced: Promise.all(syncs).then(() => undefined),
    list: () => informers.flatMap((informer) => informer.list()),
    async stop() {
      stopped = true;
      clearTimeout(debounce);
      for (const timer of retries) clearTimeout(timer);
      retries.clear();
      await Promise.all(informers.map((informer) => informer.stop()));
    },
  };
}
