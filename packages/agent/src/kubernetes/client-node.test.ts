// The fake API server against the real @kubernetes/client-node (a root devDependency, not used by the
// agent): its chunked list, ListWatch with bookmarks and the 410 re-list, and the status PUT work as
// that library expects of a Kubernetes API server. Every other test runs the agent's own client on it.
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type KubernetesObject,
  ListWatch,
  type V1Pod,
  Watch,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type FakeApiServer, pod, startFakeApiServer, TOKEN } from './fake-api-server.test.helper.ts';

let api: FakeApiServer;
let config: KubeConfig;
const informers: ListWatch<KubernetesObject>[] = [];
beforeEach(async () => {
  api = await startFakeApiServer();
  config = new KubeConfig();
  config.loadFromOptions({
    // Plain HTTP on loopback: the library requires skipTLSVerify to allow it.
    clusters: [{ name: 'fake', server: api.url, skipTLSVerify: true }],
    users: [{ name: 'agent', token: TOKEN }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'agent' }],
    currentContext: 'fake',
  });
});
afterEach(async () => {
  await Promise.all(informers.splice(0).map((i) => i.stop()));
  await api.close();
});

const within = { timeout: 4000, interval: 20 };
const names = (objects: readonly KubernetesObject[]) => objects.map((o) => o.metadata?.name).sort();

describe('fake API server, read by @kubernetes/client-node', () => {
  it('pages a list with limit and continue, all from one resourceVersion', async () => {
    for (let i = 0; i < 5; i++) api.put('Pods', pod('web', `p${i}`, {}, ['nginx:1']));
    const core = config.makeApiClient(CoreV1Api);
    const first = await core.listNamespacedPod({ namespace: 'web', limit: 2 });
    expect(first.items.map((p) => p.metadata?.name)).toEqual(['p0', 'p1']);
    expect(first.metadata?.remainingItemCount).toBe(3);
    api.put('Pods', pod('web', 'later', {}, ['nginx:1']));
    const second = await core.listNamespacedPod({ namespace: 'web', limit: 10, _continue: first.metadata?._continue });
    expect(second.items.map((p) => p.metadata?.name)).toEqual(['p2', 'p3', 'p4']);
    expect(second.metadata?._continue).toBeUndefined();
  });

  it('feeds ListWatch: list, watch with bookmarks, add/update/delete, and a re-list after 410 Gone', async () => {
    api.put('Pods', pod('web', 'a', {}, ['nginx:1']));
    api.put('Pods', pod('web', 'b', {}, ['nginx:1']));
    const core = config.makeApiClient(CoreV1Api);
    const events: string[] = [];
    // Like the agent: ask for bookmarks on every watch the informer opens.
    class BookmarkWatch extends Watch {
      override watch(
        path: string,
        query: Record<string, string | number | boolean | undefined>,
        callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
        done: (err: unknown) => void,
      ) {
        return super.watch(path, { ...query, allowWatchBookmarks: true }, callback, done);
      }
    }
    const informer = new ListWatch<V1Pod>(
      '/api/v1/pods',
      new BookmarkWatch(config),
      () => core.listPodForAllNamespaces(),
      false,
    );
    informers.push(informer as unknown as ListWatch<KubernetesObject>);
    for (const verb of ['add', 'update', 'delete'] as const) {
      informer.on(verb, (o: V1Pod) => events.push(`${verb} ${o.metadata?.name}`));
    }
    await informer.start();
    await vi.waitFor(() => expect(api.openWatches).toBe(1), within);
    expect(names(informer.list())).toEqual(['a', 'b']);
    const watchQuery = api.requests.find((r) => r.query.get('watch') === 'true')?.query;
    expect(watchQuery?.get('allowWatchBookmarks')).toBe('true');
    expect(watchQuery?.get('resourceVersion')).toBe(String(api.resourceVersion));

    events.length = 0;
    api.put('Pods', pod('web', 'c', {}, ['nginx:1']));
    api.put('Pods', pod('web', 'a', {}, ['nginx:2']));
    api.remove('Pods', 'web', 'b');
    await vi.waitFor(() => expect(events).toEqual(['add c', 'update a', 'delete b']), within);

    // A bookmark moves the library's resume point past changes it never saw.
    api.put('Pods', pod('other', 'hidden', {}, ['x:1']));
    api.sendBookmarks();
    await vi.waitFor(() => expect(informer.latestResourceVersion()).toBe(String(api.resourceVersion)), within);

    // History compacted while the watch was down: the ERROR 410 event makes it list again.
    const lists = () => api.requests.filter((r) => r.query.get('watch') === null).length;
    const listsBefore = lists();
    const release = api.holdWatches();
    api.closeWatches();
    api.put('Pods', pod('web', 'd', {}, ['nginx:1']));
    api.expireHistory();
    release();
    await vi.waitFor(() => expect(names(informer.list())).toEqual(['a', 'c', 'd', 'hidden']), within);
    expect(lists()).toBe(listsBefore + 1);
  });

  it('takes a status PUT, refusing a stale resourceVersion with 409', async () => {
    const tracker = api.putTracker('opvic.skillz.com', {
      metadata: { name: 'web', namespace: 'opvic' },
      spec: { name: 'web' },
    });
    const custom = config.makeApiClient(CustomObjectsApi);
    const where = { group: 'opvic.skillz.com', version: 'v1alpha1', namespace: 'opvic', plural: 'versiontrackers' };
    const written = (await custom.replaceNamespacedCustomObjectStatus({
      ...where,
      name: 'web',
      body: { ...tracker, status: { id: 'web' } },
    })) as KubernetesObject & { status?: unknown };
    expect(written.status).toEqual({ id: 'web' });
    expect(api.tracker('opvic.skillz.com', 'opvic', 'web')?.status).toEqual({ id: 'web' });
    const read = (await custom.getNamespacedCustomObject({ ...where, name: 'web' })) as KubernetesObject;
    expect(read.metadata?.resourceVersion).toBe(written.metadata?.resourceVersion);
    await expect(
      custom.replaceNamespacedCustomObjectStatus({ ...where, name: 'web', body: { ...tracker, status: { id: 'x' } } }),
    ).rejects.toMatchObject({ code: 409 });
  });
});
