/**
 * The client of a request as Fastify's `trustProxy` sees it: the socket's peer, or, while each hop
 * is a trusted proxy, the next address to the left in `X-Forwarded-For` (right-most untrusted).
 */
export function clientAddress(
  socketAddress: string,
  forwardedFor: string | string[] | undefined,
  trusted: ((address: string) => boolean) | null,
): string {
  if (!trusted || forwardedFor === undefined || !trusted(socketAddress)) return socketAddress;
  const hops = joinHeader(forwardedFor).split(',');
  for (let i = hops.length - 1; i > 0; i--) {
    const hop = (hops[i] as string).trim();
    if (!trusted(hop)) return hop;
  }
  return (hops[0] as string).trim();
}

/** `X-Forwarded-For` as passed on to the main thread: the peer becomes the right-most hop. */
export function appendForwardedFor(existing: string | string[] | undefined, peer: string): string {
  const prior = existing === undefined ? '' : joinHeader(existing);
  return prior ? `${prior}, ${peer}` : peer;
}

/** Several header lines read as one comma list, as Node joins X-Forwarded-For itself. */
function joinHeader(value: string | string[]): string {
  return Array.isArray(value) ? value.join(', ') : value;
}
