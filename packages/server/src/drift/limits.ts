import { DomainError, Invalid } from '../errors.ts';

/** Byte caps on what a row holds, checked before writing (the schemas bound each field, these the total). */
export const driftLimits = {
  idBytes: 253,
  tagsBytes: 16 * 1024,
  versionsBytes: 512 * 1024,
  upstreamRefBytes: 8 * 1024,
  upstreamKeyBytes: 1024,
  upstreamVersionsBytes: 8 * 1024 * 1024,
  upstreamTextBytes: 8 * 1024,
  errorBytes: 2048,
} as const;

/** Opvic sends one subject per report; 1 MiB holds the schema's 1,000 versions with room to spare. */
export const maxReportBytes = 1024 * 1024;

/** A value too large to store; mapped to 413. */
export class DriftTooLarge extends DomainError {
  constructor(message: string) {
    super('payload_too_large', message);
  }
}

export function json(value: unknown, field: string, maxBytes: number): string {
  const text = JSON.stringify(value);
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) throw new DriftTooLarge(`${field} is ${bytes} bytes; at most ${maxBytes} are stored`);
  return text;
}

export function checkId(value: string, field: string): void {
  if (value.length === 0) throw new Invalid(`${field} must not be empty`);
  if (Buffer.byteLength(value) > driftLimits.idBytes)
    throw new DriftTooLarge(`${field} is longer than ${driftLimits.idBytes} bytes`);
}
