import type {
  AppList,
  AuditPage,
  BuildJob,
  BuildList,
  CreatedToken,
  CreateTokenBody,
  CreateUserBody,
  DesiredHistory,
  DesiredPatch,
  DesiredRevision,
  Environment,
  EnvironmentList,
  ErrorBody,
  ErrorRollout,
  FaultDetail,
  FaultList,
  FleetView,
  Instance,
  InstanceList,
  LogPage,
  MarkTestedResponse,
  ProfileList,
  Rollout,
  RolloutList,
  RolloutStart,
  Service,
  ServiceList,
  TokenInfo,
  TokenList,
  TrashItem,
  TrashList,
  UpdateUserBody,
  UsageResponse,
  UserInfo,
  UserList,
  VersionDetail,
  VersionList,
  WhoAmI,
} from '@flotilla/protocol';

/** An API answer that was not 2xx, with the server's own words. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** With code `rollout_active`: the rollout that refused the change. */
  readonly rollout?: ErrorRollout;
  constructor(status: number, code: string, message: string, rollout?: ErrorRollout) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.rollout = rollout;
  }
}

/** Sent on every request: the server refuses cookie-authenticated writes without it (CSRF). */
export const csrfHeaders = { 'X-Flotilla-Csrf': '1' } as const;

type Query = Record<string, string | number | undefined | null>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function errorFrom(status: number, text: string): Promise<ApiError> {
  try {
    const body = JSON.parse(text) as ErrorBody;
    if (body.error?.message) return new ApiError(status, body.error.code, body.error.message, body.error.rollout);
  } catch {
    // Not JSON: a proxy or the network answered.
  }
  return new ApiError(status, 'http', `the server answered ${status}${text ? `: ${text.slice(0, 200)}` : ''}`);
}

/** Listeners told when any request answers 401, so the app can show the sign-in page. */
const unauthorizedListeners = new Set<() => void>();
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** GETs started before the page that needs them has rendered; the first request for the same path takes one. */
const early = new Map<string, Promise<unknown>>();

/**
 * Starts `GET path` now, while code still loads and renders: the page's own first request for the
 * same path takes its answer (within 10 s; a failed one is asked again).
 */
export function getEarly(path: string): void {
  if (early.has(path)) return;
  const answer = send('GET', path);
  answer.catch(() => undefined);
  early.set(path, answer);
  setTimeout(() => early.delete(path), 10_000);
}

export function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const started = method === 'GET' ? early.get(path) : undefined;
  if (started) {
    early.delete(path);
    return (started as Promise<T>).catch(() => send<T>(method, path, body));
  }
  return send<T>(method, path, body);
}

async function send<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { ...csrfHeaders, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, 'network', `the server could not be reached (${(err as Error).message})`);
  }
  const text = await res.text();
  if (!res.ok) {
    const error = await errorFrom(res.status, text);
    const signingIn = path.startsWith('/api/v1/auth/') || path === '/api/v1/setup';
    if (res.status === 401 && !signingIn) for (const l of unauthorizedListeners) l();
    throw error;
  }
  return (text ? JSON.parse(text) : null) as T;
}

const enc = encodeURIComponent;

/** The dashboard's view of the API: one function per call, typed by the wire schemas. */
export const api = {
  signIn: (name: string, password: string) => request<WhoAmI>('POST', '/api/v1/auth/session', { name, password }),
  signOut: () => request<null>('DELETE', '/api/v1/auth/session'),
  setupStatus: () => request<{ state: 'pending' | 'closed' | 'done' }>('GET', '/api/v1/setup'),
  completeSetup: (body: { code: string; name: string; password: string }) =>
    request<WhoAmI>('POST', '/api/v1/setup', body),
  whoami: () => request<WhoAmI>('GET', '/api/v1/whoami'),

  apps: () => request<AppList>('GET', '/api/v1/apps'),
  usage: (
    app: string,
    q: { groupBy: string; from?: string; to?: string; period?: string; fill?: 'true' | 'false'; points?: 'none' },
  ) => request<UsageResponse>('GET', withQuery(`/api/v1/apps/${enc(app)}/usage`, q)),

  services: () => request<ServiceList>('GET', '/api/v1/services'),
  createService: (name: string, description?: string) =>
    request<Service>('POST', '/api/v1/services', { name, ...(description ? { description } : {}) }),
  profiles: () => request<ProfileList>('GET', '/api/v1/profiles'),
  versions: (
    service: string,
    q: { limit?: number; cursor?: string | null; kind?: 'developer' | 'client' | 'all' } = {},
  ) => request<VersionList>('GET', withQuery(`/api/v1/services/${enc(service)}/versions`, q)),
  version: (service: string, version: string) =>
    request<VersionDetail>('GET', `/api/v1/services/${enc(service)}/versions/${enc(version)}`),

  environments: () => request<EnvironmentList>('GET', '/api/v1/environments'),
  createEnvironment: (name: string, requiresTestedIn?: string) =>
    request<Environment>('POST', '/api/v1/environments', { name, ...(requiresTestedIn ? { requiresTestedIn } : {}) }),
  setTestedGate: (env: string, requiresTestedIn: string | null) =>
    request<Environment>('PATCH', `/api/v1/environments/${enc(env)}`, { requiresTestedIn }),
  desired: (env: string, revision?: number) =>
    request<DesiredRevision>('GET', withQuery(`/api/v1/environments/${enc(env)}/desired`, { revision })),
  history: (env: string, q: { limit?: number; before?: number } = {}) =>
    request<DesiredHistory>('GET', withQuery(`/api/v1/environments/${enc(env)}/desired/history`, q)),
  editDesired: (env: string, patch: DesiredPatch) =>
    request<DesiredRevision>('PATCH', `/api/v1/environments/${enc(env)}/desired`, patch),
  rollback: (env: string, revision: number, comment?: string, abortRollout?: boolean) =>
    request<DesiredRevision>('POST', `/api/v1/environments/${enc(env)}/desired/rollback`, {
      revision,
      ...(comment ? { comment } : {}),
      ...(abortRollout ? { abortRollout } : {}),
    }),
  markTested: (env: string, revision?: number) =>
    request<MarkTestedResponse>('POST', `/api/v1/environments/${enc(env)}/desired/mark-tested`, { revision }),

  users: () => request<UserList>('GET', '/api/v1/users'),
  createUser: (body: CreateUserBody) => request<UserInfo>('POST', '/api/v1/users', body),
  updateUser: (name: string, body: UpdateUserBody) => request<UserInfo>('PATCH', `/api/v1/users/${enc(name)}`, body),
  tokens: () => request<TokenList>('GET', '/api/v1/tokens'),
  createToken: (body: CreateTokenBody) => request<CreatedToken>('POST', '/api/v1/tokens', body),
  revokeToken: (id: string) => request<TokenInfo>('DELETE', `/api/v1/tokens/${enc(id)}`),
  audit: (q: { before?: string; actor?: string; action?: string; limit?: number }) =>
    request<AuditPage>('GET', withQuery('/api/v1/audit', q)),

  rollouts: (env: string, q: { active?: 'true' } = {}) =>
    request<RolloutList>('GET', withQuery(`/api/v1/environments/${enc(env)}/rollouts`, q)),
  startRollout: (env: string, body: RolloutStart) =>
    request<Rollout>('POST', `/api/v1/environments/${enc(env)}/rollouts`, body),
  rolloutAction: (id: string, action: 'pause' | 'resume' | 'approve' | 'abort') =>
    request<Rollout>('POST', `/api/v1/rollouts/${enc(id)}/${action}`),

  fleet: (q: { environment?: string; service?: string; instance?: string; alerts?: 'true'; limit?: number }) =>
    request<FleetView>('GET', withQuery('/api/v1/fleet', q)),
  instances: (q: { environment?: string; service?: string; limit?: number; cursor?: string | null }) =>
    request<InstanceList>('GET', withQuery('/api/v1/instances', q)),
  instance: (id: string) => request<Instance>('GET', `/api/v1/instances/${enc(id)}`),

  logs: (q: LogSearch & { limit?: number; cursor?: string | null }) =>
    request<LogPage>('GET', withQuery('/api/v1/logs', q)),

  faults: (q: {
    service?: string;
    instance?: string;
    from?: string;
    to?: string;
    limit?: number;
    cursor?: string | null;
  }) => request<FaultList>('GET', withQuery('/api/v1/faults', q)),
  fault: (id: string) => request<FaultDetail>('GET', `/api/v1/faults/${enc(id)}`),

  builds: (q: { service?: string; state?: string; limit?: number }) =>
    request<BuildList>('GET', withQuery('/api/v1/builds', q)),
  build: (id: string) => request<BuildJob>('GET', `/api/v1/builds/${enc(id)}`),
  cancelBuild: (id: string) => request<BuildJob>('POST', `/api/v1/builds/${enc(id)}/cancel`),

  trash: () => request<TrashList>('GET', '/api/v1/trash'),
  restoreTrash: (id: string) => request<TrashItem>('POST', `/api/v1/trash/${enc(id)}/restore`),
};

/** The filters of a log search; the same ones name a follow stream. */
export type LogSearch = {
  service?: string;
  instance?: string;
  environment?: string;
  level?: string;
  from?: string;
  to?: string;
  q?: string;
};

/** Where the browser downloads a fault's archive (the session cookie authenticates the GET). */
export const faultArchiveUrl = (id: string) => `/api/v1/faults/${enc(id)}/archive`;

/** A build's log as server-sent events from its first byte until the build ends. */
export const buildLogFollowUrl = (id: string) => `/api/v1/builds/${enc(id)}/log?follow=1`;

/** The URL of a follow stream of new log lines matching `search` (server-sent events). */
export const logFollowUrl = (search: LogSearch) => withQuery('/api/v1/logs', { ...search, follow: '1' });
