import type { UpgradeCheckOptions } from './types.ts';

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_TAG = 'latest';
const CHECK_PATH = 'v1/checkupgrade';

/**
 * Turns a server base URL into the check-upgrade URL. A URL whose path already ends in
 * `checkupgrade` is used as is; any other path is kept as a prefix, for servers behind a sub-path.
 */
export function resolveCheckUrl(url: string): URL {
  let resolved: URL;
  try {
    // In a browser a relative URL is resolved against the page, as fetch would.
    resolved = new URL(url, (globalThis as { location?: { href?: string } }).location?.href);
  } catch (error) {
    throw new TypeError(`Invalid upgrade check URL: ${JSON.stringify(url)}`, { cause: error });
  }
  if (resolved.protocol !== 'http:' && resolved.protocol !== 'https:') {
    throw new TypeError(`Upgrade check URL must be http or https: ${JSON.stringify(url)}`);
  }
  if (!/checkupgrade\/?$/.test(resolved.pathname)) {
    resolved.pathname = `${resolved.pathname.replace(/\/+$/, '')}/${CHECK_PATH}`;
  }
  return resolved;
}

/** Checks the options that a request cannot do without, and returns the URL to post to. */
export function validateCheckOptions(options: UpgradeCheckOptions): URL {
  if (typeof options !== 'object' || options === null) throw new TypeError('Upgrade check options are required');
  if (typeof options.url !== 'string') throw new TypeError('Upgrade check option "url" must be a string');
  if (typeof options.appVersion !== 'string') {
    throw new TypeError('Upgrade check option "appVersion" must be a string');
  }
  const { timeoutMs } = options;
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0)) {
    throw new TypeError('Upgrade check option "timeoutMs" must be a positive number');
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new TypeError('No fetch implementation is available');
  return resolveCheckUrl(options.url);
}

/** The upgrade-responder request body; optional fields are left out rather than sent empty. */
export function buildRequestBody(options: UpgradeCheckOptions): string {
  const body: Record<string, unknown> = {
    appVersion: options.appVersion,
    extraTagInfo: options.extraTagInfo ?? {},
    extraFieldInfo: options.extraFieldInfo ?? {},
  };
  if (options.extraInfo !== undefined) body.extraInfo = options.extraInfo;
  if (options.instanceId) body.instanceId = options.instanceId;
  return JSON.stringify(body);
}

export function buildHeaders(options: UpgradeCheckOptions): Headers {
  const headers = new Headers(options.headers);
  // The protocol's body is always JSON, so a caller's Content-Type never wins.
  headers.set('Content-Type', 'application/json');
  return headers;
}

/** The URL without query or credentials, for error messages that may end up in logs. */
export function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
