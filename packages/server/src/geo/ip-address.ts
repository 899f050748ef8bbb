/**
 * Parses client addresses without allocating: lookups run on every check-in, so the parsed
 * value lands in module-level scratch state that the (synchronous) caller reads right away.
 */
export const parsed = { v4: 0, v6: new Uint16Array(8) };

/** classifyAddress results: not worth looking up, IPv4 in `parsed.v4`, IPv6 in `parsed.v6`. */
export const ADDRESS_NONE = 0;
export const ADDRESS_V4 = 4;
export const ADDRESS_V6 = 6;
export type AddressKind = typeof ADDRESS_NONE | typeof ADDRESS_V4 | typeof ADDRESS_V6;

/**
 * Parses `ip` and tells whether it is a public address. Invalid input and private, reserved or
 * documentation ranges give ADDRESS_NONE. IPv4-mapped IPv6 (::ffff:a.b.c.d) counts as IPv4.
 */
export function classifyAddress(ip: string): AddressKind {
  if (typeof ip !== 'string' || ip.length < 2 || ip.length > 45) return ADDRESS_NONE;
  if (ip.indexOf(':') === -1) {
    const v4 = parseV4(ip, 0, ip.length);
    if (v4 < 0 || !isPublicV4(v4)) return ADDRESS_NONE;
    parsed.v4 = v4;
    return ADDRESS_V4;
  }
  const w = parsed.v6;
  if (!parseV6(ip, w)) return ADDRESS_NONE;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    const v4 = (w[6] as number) * 0x10000 + (w[7] as number);
    if (!isPublicV4(v4)) return ADDRESS_NONE;
    parsed.v4 = v4;
    return ADDRESS_V4;
  }
  return isPublicV6(w) ? ADDRESS_V6 : ADDRESS_NONE;
}

/** Dotted quad in ip[start, end) as an unsigned 32-bit number, or -1. Leading zeros are refused (octal ambiguity). */
export function parseV4(ip: string, start: number, end: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = ip.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 1 && octet === 0) return -1;
      octet = octet * 10 + (c - 48);
      if (octet > 255) return -1;
      digits++;
    } else if (c === 46 && digits > 0 && dots < 3) {
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + octet;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** RFC 4291 text form into eight 16-bit groups; false when malformed. Zone ids (%eth0) are refused. */
export function parseV6(ip: string, out: Uint16Array): boolean {
  const end = ip.length;
  let i = 0;
  let word = 0;
  let gap = -1;
  if (ip.charCodeAt(0) === 58) {
    if (ip.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    const start = i;
    let value = 0;
    for (let h = hexValue(ip.charCodeAt(i)); h >= 0 && i < end; h = hexValue(ip.charCodeAt(i))) {
      if (i - start === 4) return false;
      value = value * 16 + h;
      i++;
    }
    if (i < end && ip.charCodeAt(i) === 46) {
      // An embedded IPv4 tail (::ffff:1.2.3.4) fills the last two groups.
      const v4 = word <= 6 ? parseV4(ip, start, end) : -1;
      if (v4 < 0) return false;
      out[word++] = v4 >>> 16;
      out[word++] = v4 & 0xffff;
      break;
    }
    if (i === start || word === 8) return false;
    out[word++] = value;
    if (i === end) break;
    if (ip.charCodeAt(i) !== 58) return false;
    i++;
    if (ip.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = word;
      i++;
    } else if (i === end) {
      return false;
    }
  }
  if (gap < 0) return word === 8;
  if (word === 8) return false;
  // Slide the groups after '::' to the end and zero the gap.
  const tail = word - gap;
  for (let k = 0; k < tail; k++) out[7 - k] = out[word - 1 - k] as number;
  for (let k = gap; k < 8 - tail; k++) out[k] = 0;
  return true;
}

/** False for 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24, 192.0.2/24, 192.168/16, 198.18/15, 198.51.100/24, 203.0.113/24, 224/3. */
export function isPublicV4(v4: number): boolean {
  const a = v4 >>> 24;
  const b = (v4 >>> 16) & 0xff;
  const c = (v4 >>> 8) & 0xff;
  if (a === 0 || a === 10 || a === 127 || a >= 224) return false;
  if (a === 100) return (b & 0xc0) !== 64;
  if (a === 169) return b !== 254;
  if (a === 172) return (b & 0xf0) !== 16;
  if (a === 192) return b !== 168 && !(b === 0 && (c === 0 || c === 2));
  if (a === 198) return (b & 0xfe) !== 18 && !(b === 51 && c === 100);
  if (a === 203) return !(b === 0 && c === 113);
  return true;
}

/** Only global unicast (2000::/3) is routed; that excludes ::1, fc00::/7, fe80::/10, ff00::/8. 2001:db8::/32 is documentation. */
export function isPublicV6(w: Uint16Array): boolean {
  const first = w[0] as number;
  if ((first & 0xe000) !== 0x2000) return false;
  return !(first === 0x2001 && w[1] === 0x0db8);
}
