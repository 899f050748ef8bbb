import { constants } from 'node:zlib';
import compress from '@fastify/compress';
import type { FastifyInstance } from 'fastify';

/**
 * JSON, text and markup are compressed; binary downloads (octet-stream) and event streams are not:
 * the first are compressed already or ranged, the second must reach the browser line by line.
 */
const compressible =
  /^(?:application\/(?:[\w.+-]*\+)?json|application\/javascript|text\/(?:html|css|plain|javascript|xml|csv|markdown)|image\/svg\+xml|application\/(?:[\w.+-]*\+)?xml)(?:;|$)/;

/**
 * Compresses answers of 1 KiB or more with brotli or gzip, as the request's Accept-Encoding allows.
 * Routes registered before this (the check-in hot path, probes) stay as they are; a route opts out
 * with `compress: false`. Request bodies are not decompressed.
 */
export async function registerCompression(app: FastifyInstance): Promise<void> {
  await app.register(compress, {
    global: true,
    globalDecompression: false,
    threshold: 1024,
    encodings: ['br', 'gzip'],
    customTypes: compressible,
    // Quality 4 is several times faster than the maximum and within a few percent of its size on JSON.
    brotliOptions: { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } },
  });
}
