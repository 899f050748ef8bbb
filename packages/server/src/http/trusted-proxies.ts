import { parseV4, parseV6 } from '../geo/ip-address.ts';

/**
 * Compiles `--trusted-proxies` CIDRs into one predicate for Fastify's `trustProxy`. It runs for
 * every hop of every check-in, so it parses without allocating (proxy-addr's default parses with ipaddr.js).
 */
export function compileTrustedProxies(cidrs: readonly string[]): (address: string) => boolean {
  const v4: Array<{ net: number; mask: number }> = [];
  const v6: Array<{ words: Uint16Array; bits: number }> = [];
  for (const cidr of cidrs) {
    const [addr = '', bitsText] = cidr.split('/');
    if (addr.includes(':')) {
      const words = new Uint16Array(8);
      if (!parseV6(addr, words)) throw new Error(`"${cidr}" is not an IPv6 address or range`);
      v6.push({ words, bits: bitsText === undefined ? 128 : Number(bitsText) });
    } else {
      const net = parseV4(addr, 0, addr.length);
      if (net < 0) throw new Error(`"${cidr}" is not an IPv4 address or range`);
      const mask = v4Mask(bitsText === undefined ? 32 : Number(bitsText));
      v4.push({ net: net & mask, mask });
    }
  }
  const scratch = new Uint16Array(8);
  const matchV4 = (a: number) => v4.some((r) => (a & r.mask) === r.net);
  return (address: string) => {
    if (address.indexOf(':') === -1) {
      const a = parseV4(address, 0, address.length);
      return a >= 0 && matchV4(a);
    }
    if (!parseV6(address, scratch)) return false;
    // An IPv4-mapped address (::ffff:a.b.c.d) is matched against the IPv4 ranges.
    if (
      scratch[0] === 0 &&
      scratch[1] === 0 &&
      scratch[2] === 0 &&
      scratch[3] === 0 &&
      scratch[4] === 0 &&
      scratch[5] === 0xffff
    ) {
      return matchV4(((scratch[6] as number) << 16) | (scratch[7] as number));
    }
    return v6.some((r) => prefixMatches(scratch, r.words, r.bits));
  };
}

function v4Mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) | 0;
}

function prefixMatches(a: Uint16Array, b: Uint16Array, bits: number): boolean {
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 16) {
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if (((a[i] as number) & mask) !== ((b[i] as number) & mask)) return false;
  }
  return true;
}
