// The agent's own client (kube-client.ts) against the local list/watch server: what the Kubernetes agent's
// cache sees, how fast, and what it costs the API server (lists, watches, sockets).
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type FakeApiServer, pod, startFakeApiServer, workload } from './fake-api-server.test.helper.ts';
import { TRACKED_KINDS } from './image-ref.ts';
import type { KubernetesObject } from './kube-client.ts';
import { LabelSelectorError, labelSelectorString } from './label-selector.ts';
import { type KindWatch, type WatchKindOptions, watchKind } from './watch-kinds.ts';

let api: FakeApiServer;
let watches: KindWatch[] = [];
beforeEach(async () => {
  api = await startFakeApiServer();
});
afterEach(async () => {
  await Promise.all(watches.map((w) => w.stop()));
  watches = [];
  await api.close();
});

/** Starts a watch that counts onChange calls and waits for its first sync. */
async function start(options: Partial<WatchKindOptions> = {}) {
  const seen = { changes: 0, errors: [] as unknown[] };
  const watch = await watchKind({
    kubeConfig: api.kubeConfig(),
    kind: 'Pods',
    onChange: () => seen.changes++,
    onError: (error) => seen.errors.push(error),
    ...options,
  });
  watches.push(watch);
  await watch.synced;
  return { watch, seen };
}

const names = (objects: KubernetesObject[]) =>
  objects.map((o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name}`).sort();
const lists = () => api.requests.filter((r) => r.query.get('watch') === null);
const within = { timeout: 2000, interval: 20 };

describe('watchKind', () => {
  it('lists in chunks, then watches from the list resourceVersion with bookmarks', async () => {
    for (let i = 0; i < 5; i++) api.put('Pods', pod('web', `p${i}`, { app: 'web' }, [`nginx:1.${i}`]));
    const listedAt = api.resourceVersion;
    const { watch, seen } = await start({ pageSize: 2 });
    expect(names(watch.list())).toEqual(['web/p0', 'web/p1', 'web/p2', 'web/p3', 'web/p4']);
    expect(lists().map((r) => r.query.get('limit'))).toEqual(['2', '2', '2']);
    expect(lists()[1]?.query.get('continue')).toBeTruthy();
    const watchRequest = await vi.waitFor(() => {
      const found = api.requests.find((r) => r.query.get('watch') === 'true');
      if (!found) throw new Error('no watch yet');
      return found;
    }, within);
    expect(watchRequest.query.get('resourceVersion')).toBe(String(listedAt));
    expect(watchRequest.query.get('allowWatchBookmarks')).toBe('true');
    await sleep(400);
    expect(seen.changes).toBe(0);
  });

  it('starts the list again when its continue token expires between pages', async () => {
    for (let i = 0; i < 3; i++) api.put('Pods', pod('web', `p${i}`, {}, ['x:1']));
    let expired = false;
    api.beforeList = (query) => {
      if (!query.get('continue') || expired) return;
      expired = true;
      api.put('Pods', pod('web', 'p3', {}, ['x:1']));
      api.expireHistory();
    };
    const { watch, seen } = await start({ pageSize: 2 });
    expect(names(watch.list())).toEqual(['web/p0', 'web/p1', 'web/p2', 'web/p3']);
    expect(lists().map((r) => Boolean(r.query.get('continue')))).toEqual([false, true, false, true]);
    expect(seen.errors).toEqual([]);
  });

  it('sees an add, a change and a delete within 2 s, debounced', async () => {
    api.put('Pods', pod('web', 'a', {}, ['nginx:1.25']));
    const { watch, seen } = await start();
    await vi.waitFor(() => expect(api.openWatches).toBe(1), within);

    api.put('Pods', pod('web', 'b', {}, ['nginx:1.25']));
    await vi.waitFor(() => expect(names(watch.list())).toEqual(['web/a', 'web/b']), within);
    await vi.waitFor(() => expect(seen.changes).toBe(1), within);

    api.put('Pods', pod('web', 'a', {}, ['nginx:1.26']));
    await vi.waitFor(() => {
      const a = watch.list().find((o) => o.metadata?.name === 'a') as { spec?: { containers?: { image: string }[] } };
      expect(a.spec?.containers?.[0]?.image).toBe('nginx:1.26');
    }, within);
    api.remove('Pods', 'web', 'b');
    await vi.waitFor(() => expect(names(watch.list())).toEqual(['web/a']), within);
    await vi.waitFor(() => expect(seen.changes).toBeGreaterThanOrEqual(2), within);

    // A burst is one call, not one per object.
    const before = seen.changes;
    for (let i = 0; i < 20; i++) api.put('Pods', pod('web', `burst${i}`, {}, ['x:1']));
    await vi.waitFor(() => expect(watch.list()).toHaveLength(21), within);
    await sleep(400);
    // One call, or two if the burst straddles the 250 ms window on a loaded machine; never one per object.
    expect(seen.changes - before).toBeGreaterThanOrEqual(1);
    expect(seen.changes - before).toBeLessThanOrEqual(2);
    expect(lists()).toHaveLength(1);
  });

  it('resumes a closed watch from the last resourceVersion without a re-list', async () => {
    api.put('Pods', pod('web', 'a', {}, ['nginx:1']));
    const { watch } = await start();
    await vi.waitFor(() => expect(api.openWatches).toBe(1), within);
    api.put('Pods', pod('web', 'b', {}, ['nginx:1']));
    await vi.waitFor(() => expect(watch.list()).toHaveLength(2), within);
    const seenRv = api.resourceVersion;
    api.closeWatches();
    api.put('Pods', pod('web', 'c', {}, ['nginx:1']));
    await vi.waitFor(() => expect(names(watch.list())).toEqual(['web/a', 'web/b', 'web/c']), {
      ...within,
      timeout: 4000,
    });
    const rewatch = api.requests.filter((r) => r.query.get('watch') === 'true').at(-1);
    expect(rewatch?.query.get('resourceVersion')).toBe(String(seenRv));
    expect(lists()).toHaveLength(1);
  });

  it('re-lists after 410 Gone and loses no change made while it was away', async () => {
    api.put('Pods', pod('web', 'keep', {}, ['nginx:1']));
    api.put('Pods', pod('web', 'gone', {}, ['nginx:1']));
    api.put('Pods', pod('web', 'changed', {}, ['nginx:1']));
    const { watch, seen } = await start();
    await vi.waitFor(() => expect(api.openWatches).toBe(1), within);

    // The watch drops and cannot reconnect until history has been compacted past what it saw.
    const release = api.holdWatches();
    api.closeWatches();
    api.remove('Pods', 'web', 'gone');
    api.put('Pods', pod('web', 'changed', {}, ['nginx:2']));
    api.put('Pods', pod('web', 'new', {}, ['nginx:1']));
    api.expireHistory();
    await sleep(200);
    release();

    await vi.waitFor(() => expect(names(watch.list())).toEqual(['web/changed', 'web/keep', 'web/new']), {
      ...within,
      timeout: 4000,
    });
    const changed = watch.list().find((o) => o.metadata?.name === 'changed') as {
      spec?: { containers?: { image: string }[] };
    };
    expect(changed.spec?.containers?.[0]?.image).toBe('nginx:2');
    expect(lists()).toHaveLength(2);
    await vi.waitFor(() => expect(seen.changes).toBeGreaterThanOrEqual(1), within);
    expect(seen.errors).toEqual([]);
    // Watching resumes from the new list, and later changes still arrive.
    api.put('Pods', pod('web', 'later', {}, ['nginx:1']));
    await vi.waitFor(() => expect(watch.list()).toHaveLength(4), { ...within, timeout: 4000 });
  });

  it('bookmarks move the resume point, so a reconnect after compaction needs no re-list', async () => {
    api.put('Pods', pod('web', 'a', { app: 'web' }, ['nginx:1']));
    const { watch } = await start({ selector: { matchLabels: { app: 'web' } } });
    await vi.waitFor(() => expect(api.openWatches).toBe(1), within);
    // Changes the selector hides still advance the resourceVersion; only a bookmark tells the client.
    for (let i = 0; i < 3; i++) api.put('Pods', pod('web', `other${i}`, { app: 'other' }, ['x:1']));
    api.sendBookmarks();
    await sleep(200);
    api.expireHistory();
    api.closeWatches();
    api.put('Pods', pod('web', 'b', { app: 'web' }, ['nginx:1']));
    await vi.waitFor(() => expect(names(watch.list())).toEqual(['web/a', 'web/b']), { ...within, timeout: 4000 });
    expect(lists()).toHaveLength(1);
  });

  it('sends the label selector to the API server and follows objects in and out of it', async () => {
    const selector = {
      matchLabels: { app: 'coredns' },
      matchExpressions: [
        { key: 'tier', operator: 'In' as const, values: ['dns', 'core'] },
        { key: 'legacy', operator: 'DoesNotExist' as const },
        { key: 'example.com/owner', operator: 'Exists' as const },
        { key: 'stage', operator: 'NotIn' as const, values: ['test'] },
      ],
    };
    const owner = { 'example.com/owner': 'ops' };
    api.put('Pods', pod('kube-system', 'dns-1', { app: 'coredns', tier: 'dns', ...owner }, ['coredns:1.7.0']));
    api.put('Pods', pod('kube-system', 'dns-2', { app: 'coredns', tier: 'core', stage: 'prod', ...owner }, ['c:1']));
    api.put('Pods', pod('kube-system', 'old', { app: 'coredns', tier: 'dns', legacy: 'y', ...owner }, ['c:1']));
    api.put('Pods', pod('kube-system', 'test', { app: 'coredns', tier: 'dns', stage: 'test', ...owner }, ['c:1']));
    api.put('Pods', pod('kube-system', 'unowned', { app: 'coredns', tier: 'dns' }, ['c:1']));
    api.put('Pods', pod('kube-system', 'proxy', { app: 'kube-proxy', tier: 'dns', ...owner }, ['c:1']));
    const { watch, seen } = await start({ selector });
    expect(lists()[0]?.query.get('labelSelector')).toBe(
      'app=coredns,tier in (core,dns),!legacy,example.com/owner,stage notin (test)',
    );
    expect(names(watch.list())).toEqual(['kube-system/dns-1', 'kube-system/dns-2']);
    await vi.waitFor(() => expect(api.openWatches).toBe(1), within);

    // Losing a label is a removal from the cache; gaining one, an addition.
    api.put('Pods', pod('kube-system', 'dns-2', { app: 'coredns', tier: 'core', stage: 'test', ...owner }, ['c:1']));
    api.put('Pods', pod('kube-system', 'proxy', { app: 'coredns', tier: 'dns', ...owner }, ['c:1']));
    await vi.waitFor(() => expect(names(watch.list())).toEqual(['kube-system/dns-1', 'kube-system/proxy']), within);
    await sleep(400);
    const changes = seen.changes;
    expect(changes).toBeGreaterThanOrEqual(1);
    api.put('Pods', pod('kube-system', 'unrelated', { app: 'other' }, ['c:1']));
    await sleep(500);
    expect(seen.changes).toBe(changes);
  });

  it('watches only the given namespaces, one list and watch each', async () => {
    api.put('Pods', pod('a', 'p', {}, ['x:1']));
    api.put('Pods', pod('b', 'p', {}, ['x:1']));
    api.put('Pods', pod('c', 'p', {}, ['x:1']));
    const { watch, seen } = await start({ namespaces: ['a', 'b', 'a'] });
    expect(names(watch.list())).toEqual(['a/p', 'b/p']);
    expect(
      lists()
        .map((r) => r.path)
        .sort(),
    ).toEqual(['/api/v1/namespaces/a/pods', '/api/v1/namespaces/b/pods']);
    await vi.waitFor(() => expect(api.openWatches).toBe(2), within);
    api.put('Pods', pod('c', 'q', {}, ['x:1']));
    await sleep(500);
    expect(seen.changes).toBe(0);
    api.put('Pods', pod('b', 'q', {}, ['x:1']));
    await vi.waitFor(() => expect(names(watch.list())).toEqual(['a/p', 'b/p', 'b/q']), within);
    await vi.waitFor(() => expect(seen.changes).toBe(1), within);
  });

  it.each(TRACKED_KINDS)('lists and watches %s at its API path', async (kind) => {
    const namespace = kind === 'Nodes' ? undefined : 'apps';
    api.put(kind, workload(kind, namespace, 'one', { app: 'x' }, 'registry.example.com:5000/x:1.0'));
    api.put(kind, workload(kind, namespace, 'skip', { app: 'y' }, 'x:1'));
    const { watch } = await start({ kind, namespaces: ['apps'], selector: { matchLabels: { app: 'x' } } });
    expect(names(watch.list())).toEqual([`${namespace ?? ''}/one`]);
    const path = lists()[0]?.path ?? '';
    expect(path).toMatch(kind === 'Nodes' ? /^\/api\/v1\/nodes$/ : /^\/apis?\/.*\/namespaces\/apps\//);
    api.put(kind, workload(kind, namespace, 'two', { app: 'x' }, 'x:2'));
    await vi.waitFor(() => expect(watch.list()).toHaveLength(2), within);
  });

  it('retries a failed list with backoff and reports the error', async () => {
    api.put('Pods', pod('web', 'a', {}, ['x:1']));
    api.failLists(500, 1);
    const { watch, seen } = await start();
    expect(names(watch.list())).toEqual(['web/a']);
    expect(seen.errors).toHaveLength(1);
    expect(lists()).toHaveLength(2);
  });

  it('stop() closes every watch and nothing reconnects', async () => {
    api.put('Pods', pod('a', 'p', {}, ['x:1']));
    const { watch, seen } = await start({ namespaces: ['a', 'b'] });
    await vi.waitFor(() => expect(api.openWatches).toBe(2), within);
    await watch.stop();
    await vi.waitFor(() => expect(api.openWatches).toBe(0), within);
    const requests = api.requests.length;
    api.put('Pods', pod('a', 'q', {}, ['x:1']));
    await sleep(1500);
    expect(api.requests.length).toBe(requests);
    expect(api.openWatches).toBe(0);
    expect(seen.changes).toBe(0);
    expect(seen.errors).toEqual([]);
  });

  it('stop() while retrying a failed list cancels the retry', async () => {
    api.failLists(500, 1000);
    const errors: unknown[] = [];
    const watch = await watchKind({
      kubeConfig: api.kubeConfig(),
      kind: 'Deployments',
      onChange: () => {},
      onError: (error) => errors.push(error),
    });
    watches.push(watch);
    await vi.waitFor(() => expect(errors).toHaveLength(1), within);
    await watch.stop();
    const requests = api.requests.length;
    await sleep(1500);
    expect(api.requests.length).toBe(requests);
    expect(api.openWatches).toBe(0);
  });

  it('is refused by the API server without the right token, and says so', async () => {
    const errors: unknown[] = [];
    const watch = await watchKind({
      kubeConfig: api.kubeConfig('wrong'),
      kind: 'Pods',
      onChange: () => {},
      onError: (error) => errors.push(error),
    });
    watches.push(watch);
    await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), within);
    expect(String((errors[0] as { code?: number }).code)).toBe('401');
  });
});

describe('labelSelectorString', () => {
  it('refuses a selector the API would refuse, naming the field', () => {
    expect(() => labelSelectorString({ matchLabels: { 'bad key!': 'x' } })).toThrow(/matchLabels: invalid label key/);
    expect(() => labelSelectorString({ matchLabels: { app: 'a b' } })).toThrow(LabelSelectorError);
    expect(() => labelSelectorString({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] })).toThrow(
      /matchExpressions\[0\]: In needs values/,
    );
    expect(() => labelSelectorString({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] })).toThrow(
      /takes no values/,
    );
    expect(() =>
      labelSelectorString({ matchExpressions: [{ key: 'a', operator: 'Gt' as 'In', values: ['1'] }] }),
    ).toThrow(/unknown operator "Gt"/);
    expect(labelSelectorString(undefined)).toBe('');
    expect(labelSelectorString({ matchLabels: { 'app.kubernetes.io/name': 'coredns', empty: '' } })).toBe(
      'app.kubernetes.io/name=coredns,empty=',
    );
  });
});
