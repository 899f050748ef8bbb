import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../http/error-handler.ts';
import { hexOf } from './artifacts.ts';
import type { ArtifactBlob } from './service.ts';

/** One `bytes=` range of a body of `size` bytes; null for none or several (the whole body is sent). */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | 'unsatisfiable' {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (start >= size || end < start) return 'unsatisfiable';
  }
  return { start, end };
}

export async function sendArtifact(
  request: FastifyRequest,
  reply: FastifyReply,
  blob: ArtifactBlob,
): Promise<FastifyReply> {
  const hex = hexOf(blob.digest);
  const etag = `"${blob.digest}"`;
  reply.headers({
    'accept-ranges': 'bytes',
    etag,
    digest: `sha-256=${Buffer.from(hex, 'hex').toString('base64')}`,
    'x-checksum-sha256': hex,
  });
  const ifRange = request.headers['if-range'];
  const range = ifRange && ifRange !== etag ? null : parseRange(request.headers.range, blob.size);
  if (range === 'unsatisfiable') {
    reply.header('content-range', `bytes */${blob.size}`);
    return reply.status(416).send(errorBody('invalid', `the range is outside the ${blob.size}-byte artifact`));
  }
  reply.header('content-type', 'application/gzip');
  if (range) {
    reply.status(206);
    reply.header('content-range', `bytes ${range.start}-${range.end}/${blob.size}`);
    reply.header('content-length', range.end - range.start + 1);
    return reply.send(await blob.open(range));
  }
  reply.header('content-length', blob.size);
  return reply.send(await blob.open());
}
