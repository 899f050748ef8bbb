import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { DomainError, Invalid } from '../errors.ts';
import type { PutOptions, Received } from './blob-store.ts';

/**
 * A pass-through that counts and hashes. It fails past `maxBytes`, and at the end (before the
 * stream ends, so no store completes the object) when the digest differs from `sha256`.
 */
export function createMeter(opts: PutOptions): Transform & { received(): Received } {
  const hash = createHash('sha256');
  let size = 0;
  let hex: string | undefined;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > opts.maxBytes) {
        return done(new DomainError('payload_too_large', `${opts.what} is larger than ${opts.maxBytes} bytes`));
      }
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      hex = hash.digest('hex');
      const expected = opts.sha256?.toLowerCase();
      if (expected !== undefined && expected !== hex) {
        return done(new Invalid(`digest mismatch: expected sha256 ${expected}, received ${hex}`));
      }
      done();
    },
  });
  return Object.assign(meter, {
    received(): Received {
      if (hex === undefined) throw new Error('the upload has not ended');
      return { hex, size };
    },
  });
}
