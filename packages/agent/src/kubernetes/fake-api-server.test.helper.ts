// A local stand-in for the Kubernetes API server's list and watch of the tracked kinds, so tests can
// run the agent's client against it: resourceVersions, limit/continue chunking, newline-delimited
// watch events, bookmarks, and 410 Gone (ERROR event) once history is compacted. client-node.test.ts
// runs the real @kubernetes/client-node against it too, proving it speaks what that library expects.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ApiObject, parseSelector } from './fake-api-objects.test.helper.ts';
import type { TrackedKind } from './image-ref.ts';
import type { KubeConfig } from './kube-config.ts';
import { KIND_RESOURCES, type WatchedResource } from './watch-kinds.ts';

type Json = Record<string, unknown>;

export { pod, workload } from './fake-api-objects.test.helper.ts';
export type { ApiObject };

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface Change {
  rv: number;
  plural: string;
  type: EventType;
  object: ApiObject;
  old: ApiObject | undefined;
}
interface Watcher {
  plural: string;
  namespace: string | undefined;
  matches: (object: ApiObject) => boolean;
  kind: string;
  apiVersion: string;
  bookmarks: boolean;
  res: ServerResponse;
}

export interface FakeApiServer {
  readonly url: string;
  /** A kubeconfig (token user) pointing at this server. */
  kubeConfig(token?: string): KubeConfig;
  /** Adds or replaces an object (ADDED or MODIFIED), bumping the global resourceVersion. */
  put(kind: TrackedKind, object: ApiObject): ApiObject;
  remove(kind: TrackedKind, namespace: string | undefined, name: string): void;
  /** Adds or replaces a VersionTracker of that API group (its status kept unless the object has one). */
  putTracker(group: TrackerGroup, object: ApiObject): ApiObject;
  removeTracker(group: TrackerGroup, namespace: string, name: string): void;
  tracker(group: TrackerGroup, namespace: string, name: string): ApiObject | undefined;
  /** Status subresource writes (PUT or PATCH), in arrival order. */
  readonly statusWrites: { method: string; name: string; contentType: string; body: Json }[];
  /** The next `count` status writes answer `status` (a Status object). */
  failStatusWrites(status: number, count: number): void;
  /** Compacts history: a watch from an older resourceVersion gets a 410 ERROR event. */
  expireHistory(): void;
  /** Ends every open watch stream, as a server-side watch timeout does. */
  closeWatches(): void;
  /** New watch requests wait, unanswered, until the returned function is called. */
  holdWatches(): () => void;
  /** A BOOKMARK event with the current resourceVersion to every watch that asked for them. */
  sendBookmarks(): void;
  /** The next `count` list requests answer `status` (a Status object). */
  failLists(status: number, count: number): void;
  /** Runs before each list request is answered (to change the cluster between pages). */
  beforeList: ((query: URLSearchParams) => void) | undefined;
  readonly resourceVersion: number;
  readonly openWatches: number;
  /** Every request: method, path and query, in arrival order. */
  readonly requests: { path: string; query: URLSearchParams }[];
  close(): Promise<void>;
}

export const TOKEN = 'fake-cluster-token';

export type TrackerGroup = 'opvic.skillz.com' | 'vt.skillz.com';
const trackerResource = (group: TrackerGroup): WatchedResource & { kind: string } => ({
  apiPath: `/apis/${group}/v1alpha1`,
  plural: 'versiontrackers',
  kind: 'VersionTracker',
  namespaced: true,
});
const TRACKERS = {
  'opvic.skillz.com': trackerResource('opvic.skillz.com'),
  'vt.skillz.com': trackerResource('vt.skillz.com'),
};
const RESOURCES: (WatchedResource & { kind: string })[] = [
  ...Object.values(KIND_RESOURCES),
  ...Object.values(TRACKERS),
];
const PATH =
  /^(\/api\/v1|\/apis\/apps\/v1|\/apis\/batch\/v1|\/apis\/(?:opvic|vt)\.skillz\.com\/v1alpha1)\/(?:namespaces\/([a-z0-9-]+)\/)?(pods|nodes|deployments|daemonsets|statefulsets|replicasets|jobs|cronjobs|versiontrackers)(?:\/([A-Za-z0-9._-]+)(?:\/(status))?)?$/;
const rid = (r: WatchedResource) => `${r.apiPath}/${r.plural}`;

const status = (code: number, reason: string, message: string) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  code,
});

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Json =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Json) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export async function startFakeApiServer(): Promise<FakeApiServer> {
  let rv = 1;
  let compactedRv = 0;
  const objects = new Map<string, Map<string, ApiObject>>(RESOURCES.map((r) => [rid(r), new Map()]));
  let history: Change[] = [];
  const watchers = new Set<Watcher>();
  const requests: { path: string; query: URLSearchParams }[] = [];
  const snapshots = new Map<string, { rv: number; items: ApiObject[] }>();
  let held: (() => void)[] | undefined;
  let listFailures = { status: 0, count: 0 };
  let statusFailures = { status: 0, count: 0 };
  const statusWrites: FakeApiServer['statusWrites'] = [];

  const key = (o: ApiObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  const send = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const writeEvent = (w: Watcher, type: string, object: unknown) => {
    w.res.write(`${JSON.stringify({ type, object })}\n`);
  };
  /** What one watcher sees of a change: selector changes turn MODIFIED into ADDED or DELETED. */
  const deliver = (w: Watcher, change: Change) => {
    if (w.plural !== change.plural) return;
    const inScope = (o: ApiObject | undefined) =>
      o !== undefined && (w.namespace === undefined || o.metadata.namespace === w.namespace) && w.matches(o);
    const now = change.type !== 'DELETED' && inScope(change.object);
    const before = change.type === 'DELETED' ? inScope(change.object) : inScope(change.old);
    if (change.type === 'DELETED') {
      if (before) writeEvent(w, 'DELETED', change.object);
    } else if (now) writeEvent(w, before ? 'MODIFIED' : 'ADDED', change.object);
    else if (before) writeEvent(w, 'DELETED', change.object);
  };
  const record = (plural: string, type: EventType, object: ApiObject, old: ApiObject | undefined) => {
    const change = { rv, plural, type, object, old };
    history.push(change);
    for (const w of watchers) deliver(w, change);
  };

  function putObject(resource: WatchedResource & { kind: string }, input: ApiObject): ApiObject {
    const store = objects.get(rid(resource)) ?? new Map<string, ApiObject>();
    const old = store.get(key(input));
    rv++;
    const object: ApiObject = structuredClone({
      apiVersion: resource.apiPath === '/api/v1' ? 'v1' : resource.apiPath.slice('/apis/'.length),
      kind: resource.kind,
      ...input,
      metadata: {
        ...input.metadata,
        uid: (old?.metadata.uid as string | undefined) ?? randomUUID(),
        resourceVersion: String(rv),
        creationTimestamp: (old?.metadata.creationTimestamp as string | undefined) ?? new Date().toISOString(),
      },
    });
    store.set(key(object), object);
    record(rid(resource), old ? 'MODIFIED' : 'ADDED', object, old);
    return object;
  }

  function removeObject(resource: WatchedResource, namespace: string | undefined, name: string): void {
    const store = objects.get(rid(resource));
    const old = store?.get(`${namespace ?? ''}/${name}`);
    if (!store || !old) throw new Error(`no ${resource.plural} ${namespace}/${name}`);
    store.delete(key(old));
    rv++;
    record(rid(resource), 'DELETED', { ...old, metadata: { ...old.metadata, resourceVersion: String(rv) } }, old);
  }

  /** PUT (whole object, resourceVersion checked) or JSON merge PATCH of the status subresource. */
  async function writeStatus(
    req: IncomingMessage,
    res: ServerResponse,
    resource: WatchedResource & { kind: string },
    namespace: string,
    name: string,
  ): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const contentType = String(req.headers['content-type'] ?? '');
    let body: Json;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
    } catch {
      return send(res, 400, status(400, 'BadRequest', 'invalid JSON'));
    }
    statusWrites.push({ method: req.method ?? '', name: `${namespace}/${name}`, contentType, body });
    if (statusFailures.count > 0) {
      statusFailures.count--;
      return send(res, statusFailures.status, status(statusFailures.status, 'Forbidden', 'injected failure'));
    }
    const old = objects.get(rid(resource))?.get(`${namespace}/${name}`);
    if (!old) return send(res, 404, status(404, 'NotFound', `${resource.plural} "${name}" not found`));
    let next: unknown;
    if (req.method === 'PUT') {
      const given = (body.metadata as Json | undefined)?.resourceVersion;
      if (given !== undefined && given !== old.metadata.resourceVersion) {
        return send(
          res,
          409,
          status(
            409,
            'Conflict',
            'the object has been modified; please apply your changes to the latest version and try again',
          ),
        );
      }
      next = body.status;
    } else if (contentType.startsWith('application/merge-patch+json')) {
      next = mergePatch(old.status, body.status);
    } else {
      return send(res, 415, status(415, 'UnsupportedMediaType', `unsupported patch type ${contentType}`));
    }
    const object = putObject(resource, { ...old, status: next });
    send(res, 200, object);
  }

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    requests.push({ path: url.pathname, query: url.searchParams });
    if (req.headers.authorization !== `Bearer ${TOKEN}`)
      return send(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    const m = PATH.exec(url.pathname);
    const resource = RESOURCES.find((r) => r.apiPath === m?.[1] && r.plural === m?.[3]);
    if (m?.[5] && resource && m[2] && (req.method === 'PUT' || req.method === 'PATCH')) {
      return void writeStatus(req, res, resource, m[2], m[4] ?? '');
    }
    if (req.method !== 'GET' || !m || !resource || (m[2] && !resource.namespaced)) {
      return send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    }
    const namespace = m[2];
    if (m[4]) {
      const found = objects.get(rid(resource))?.get(`${namespace ?? ''}/${m[4]}`);
      if (found) return send(res, 200, found);
      return send(res, 404, status(404, 'NotFound', `${resource.plural} "${m[4]}" not found`));
    }
    let matches: (labels: Record<string, string>) => boolean;
    try {
      matches = parseSelector(url.searchParams.get('labelSelector') ?? '');
    } catch (error) {
      return send(res, 400, status(400, 'BadRequest', (error as Error).message));
    }
    const apiVersion = resource.apiPath === '/api/v1' ? 'v1' : resource.apiPath.slice('/apis/'.length);
    const select = (o: ApiObject) =>
      (namespace === undefined || o.metadata.namespace === namespace) && matches(o.metadata.labels ?? {});
    const watch = url.searchParams.get('watch');
    if (watch === 'true' || watch === '1') {
      let closed = false;
      res.on('close', () => {
        closed = true;
      });
      const open = () => {
        if (closed) return;
        const w: Watcher = {
          plural: rid(resource),
          namespace,
          matches: (o) => matches(o.metadata.labels ?? {}),
          kind: resource.kind,
          apiVersion,
          bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true',
          res,
        };
        res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
        res.flushHeaders();
        const from = url.searchParams.get('resourceVersion') ?? '';
        if (from === '' || from === '0') {
          for (const o of objects.get(rid(resource))?.values() ?? []) if (select(o)) writeEvent(w, 'ADDED', o);
        } else if (Number(from) < compactedRv) {
          writeEvent(w, 'ERROR', status(410, 'Expired', `too old resource version: ${from} (${compactedRv})`));
          return res.end();
        } else {
          for (const change of history) if (change.rv > Number(from)) deliver(w, change);
        }
        watchers.add(w);
        res.on('close', () => watchers.delete(w));
      };
      if (held) held.push(open);
      else open();
      return;
    }
    self.beforeList?.(url.searchParams);
    if (listFailures.count > 0) {
      listFailures.count--;
      return send(res, listFailures.status, status(listFailures.status, 'InternalError', 'injected failure'));
    }
    const limit = Number(url.searchParams.get('limit') ?? 0);
    const cont = url.searchParams.get('continue');
    let snapshot: { rv: number; items: ApiObject[] };
    if (cont) {
      const found = snapshots.get(cont);
      if (!found || found.rv < compactedRv) {
        return send(res, 410, status(410, 'Expired', 'The provided continue parameter is too old'));
      }
      snapshot = found;
      snapshots.delete(cont);
    } else {
      const items = [...(objects.get(rid(resource))?.values() ?? [])].filter(select);
      items.sort((a, b) => key(a).localeCompare(key(b)));
      snapshot = { rv, items };
    }
    const page = limit > 0 ? snapshot.items.slice(0, limit) : snapshot.items;
    const rest = snapshot.items.slice(page.length);
    const metadata: Json = { resourceVersion: String(snapshot.rv) };
    if (rest.length > 0) {
      const token = Buffer.from(randomUUID()).toString('base64url');
      snapshots.set(token, { rv: snapshot.rv, items: rest });
      metadata.continue = token;
      metadata.remainingItemCount = rest.length;
    }
    send(res, 200, { kind: `${resource.kind}List`, apiVersion, metadata, items: page });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const self: FakeApiServer = {
    url,
    beforeList: undefined,
    kubeConfig: (token = TOKEN) => ({
      server: url,
      rejectUnauthorized: true,
      credentials: async () => ({ authorization: `Bearer ${token}` }),
      invalidate: () => {},
    }),
    put: (kind, input) => putObject(KIND_RESOURCES[kind], input),
    remove: (kind, namespace, name) => removeObject(KIND_RESOURCES[kind], namespace, name),
    putTracker(group, input) {
      const old = objects.get(rid(TRACKERS[group]))?.get(key(input));
      const kept = input.status === undefined && old?.status !== undefined ? { status: old.status } : {};
      return putObject(TRACKERS[group], { ...input, ...kept, metadata: { generation: 1, ...input.metadata } });
    },
    removeTracker: (group, namespace, name) => removeObject(TRACKERS[group], namespace, name),
    tracker: (group, namespace, name) =>
      structuredClone(objects.get(rid(TRACKERS[group]))?.get(`${namespace}/${name}`)),
    statusWrites,
    failStatusWrites(code, count) {
      statusFailures = { status: code, count };
    },
    expireHistory() {
      compactedRv = rv;
      history = [];
    },
    closeWatches() {
      for (const w of watchers) w.res.end();
      watchers.clear();
    },
    holdWatches() {
      const queue: (() => void)[] = [];
      held = queue;
      return () => {
        held = undefined;
        for (const open of queue.splice(0)) open();
      };
    },
    sendBookmarks() {
      for (const w of watchers) {
        if (w.bookmarks) {
          writeEvent(w, 'BOOKMARK', {
            kind: w.kind,
            apiVersion: w.apiVersion,
            metadata: { resourceVersion: String(rv) },
          });
        }
      }
    },
    failLists(code, count) {
      listFailures = { status: code, count };
    },
    get resourceVersion() {
      return rv;
    },
    get openWatches() {
      return watchers.size;
    },
    requests,
    async close() {
      for (const w of watchers) w.res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return self;
}
