import type { ServerResponse } from 'node:http';
import { MESH_ECHO_BODY, MESH_ECHO_NODE_HEADER } from './probe-types.ts';

export { MESH_ECHO_BODY, MESH_ECHO_NODE_HEADER, MESH_ECHO_PATH } from './probe-types.ts';

/**
 * Answers a probe's GET of MESH_ECHO_PATH (after the node's own TLS/token checks). The connection is
 * kept alive: the node's server should keep idle connections longer than the probe interval.
 */
export function writeEchoResponse(res: ServerResponse, selfName: string): void {
  res.writeHead(200, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(MESH_ECHO_BODY),
    'cache-control': 'no-store',
    [MESH_ECHO_NODE_HEADER]: selfName,
  });
  res.end(MESH_ECHO_BODY);
}
