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

/** The most of one answer read from the provider (a feed, a manifest, a job): more is refused. */
export const maxProviderAnswerBytes = 16 * 1024 * 1024;

/** Up to `limit` bytes of a response body; the rest is not read. */
export async function firstBytes(res: Response, limit: number): Promise<{ bytes: Buffer; cut: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  while (reader && size <= limit) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(Buffer.from(value));
    size += value.byteLength;
  }
  await reader?.cancel().catch(() => {});
  return { bytes: Buffer.concat(chunks).subarray(0, limit), cut: size > limit };
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
    signal: signal ?? init.signal ?? null,
  });
  const { bytes, cut } = await firstBytes(res, maxProviderAnswerBytes);
  if (cut)
    throw new ProviderRefused(502, `the provider's answer to ${path} is larger than ${maxProviderAnswerBytes} bytes`);
  const text = bytes.toString('utf8');
  if (!res.ok) {
    let message = text.slice(0, 500);
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
    } catch {}
    throw new ProviderRefused(res.status, `${res.status} from the provider: ${message}`);
  }
  return (text ? JSON.parse(text) : null) as T;
}
