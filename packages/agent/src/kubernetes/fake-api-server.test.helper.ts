// A local stand-in for the Kubernetes API server's list and watch of the tracked kinds, so tests can
// run the real @kubernetes/client-node against it: resourceVersions, limit/continue chunking,
// newline-delimited watch events, bookmarks, and 410 Gone (ERROR event) once history is compacted.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { type ApiObject, parseSelector } from './fake-api-objects.test.helper.ts';
import type { TrackedKind } from './image-ref.ts';
import { KIND_RESOURCES } from './watch-kinds.ts';

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

const RESOURCES = Object.values(KIND_RESOURCES);
const PATH =
  /^(\/api\/v1|\/apis\/apps\/v1|\/apis\/batch\/v1)\/(?:namespaces\/([a-z0-9-]+)\/)?(pods|nodes|deployments|daemonsets|statefulsets|replicasets|jobs|cronjobs)$/;

const status = (code: number, reason: string, message: string) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  code,
});

export async function startFakeApiServer(): Promise<FakeApiServer> {
  let rv = 1;
  let compactedRv = 0;
  const objects = new Map<string, Map<string, ApiObject>>(RESOURCES.map((r) => [r.plural, new Map()]));
  let history: Change[] = [];
  const watchers = new Set<Watcher>();
  const requests: { path: string; query: URLSearchParams }[] = [];
  const snapshots = new Map<string, { rv: number; items: ApiObject[] }>();
  let held: (() => void)[] | undefined;
  let listFailures = { status: 0, count: 0 };

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

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    requests.push({ path: url.pathname, query: url.searchParams });
    if (req.headers.authorization !== `Bearer ${TOKEN}`)
      return send(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    const m = PATH.exec(url.pathname);
    const resource = RESOURCES.find((r) => r.apiPath === m?.[1] && r.plural === m?.[3]);
    if (req.method !== 'GET' || !m || !resource || (m[2] && !resource.namespaced)) {
      return send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    }
    const namespace = m[2];
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
          plural: resource.plural,
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
          for (const o of objects.get(resource.plural)?.values() ?? []) if (select(o)) writeEvent(w, 'ADDED', o);
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
      const items = [...(objects.get(resource.plural)?.values() ?? [])].filter(select);
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
    kubeConfig(token = TOKEN) {
      const config = new KubeConfig();
      config.loadFromOptions({
        // Plain HTTP on loopback: the library requires skipTLSVerify to allow it.
        clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
        users: [{ name: 'agent', token }],
        contexts: [{ name: 'fake', cluster: 'fake', user: 'agent' }],
        currentContext: 'fake',
      });
      return config;
    },
    put(kind, input) {
      const resource = KIND_RESOURCES[kind];
      const store = objects.get(resource.plural) ?? new Map<string, ApiObject>();
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
      record(resource.plural, old ? 'MODIFIED' : 'ADDED', object, old);
      return object;
    },
    remove(kind, namespace, name) {
      const resource = KIND_RESOURCES[kind];
      const store = objects.get(resource.plural);
      const old = store?.get(`${namespace ?? ''}/${name}`);
      if (!store || !old) throw new Error(`no ${kind} ${namespace}/${name}`);
      store.delete(key(old));
      rv++;
      record(resource.plural, 'DELETED', { ...old, metadata: { ...old.metadata, resourceVersion: String(rv) } }, old);
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
