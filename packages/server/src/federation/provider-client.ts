// How a consumer calls its provider: the connection, and calls that turn refusals into errors.
export interface ProviderConnection {
  providerUrl: string;
  token: string;
  /** Received versions become desired here at once (through its tested gate). */
  environment: string | null;
  /** A public key (PEM) to pin instead of trusting the provider's on first use. */
  providerKeyPem?: string | null;
}

/** A provider's non-2xx answer; 401 and 403 stop the follower. */
export class ProviderRefused extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** One JSON call to the provider with the consumer token. */
export async function callProvider<T>(
  c: ProviderConnection,
  path: string,
  init: RequestInit = {},
  signal?: AbortSignal,
): Promise<T> {
  const res = await fetch(new URL(path, c.providerUrl), {
    ...init,
    headers: { authorization: `Bearer ${c.token}`, ...(init.headers ?? {}) },
    signal,
  });
  const text = await res.text();
  if (!res.ok) {
    let message = text.slice(0, 500);
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
    } catch {}
    throw new ProviderRefused(res.status, `${res.status} from the provider: ${message}`);
  }
  return (text ? JSON.parse(text) : null) as T;
}
