import { isIPv4, isIPv6 } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ADDRESS_NONE, ADDRESS_V4, ADDRESS_V6, classifyAddress, parsed, parseV4, parseV6 } from './ip-address.ts';

const groups = (ip: string) => {
  const out = new Uint16Array(8);
  return parseV6(ip, out) ? [...out] : null;
};

describe('parseV4', () => {
  it('agrees with node:net on valid and invalid dotted quads', () => {
    const samples = ['1.2.3.4', '0.0.0.0', '255.255.255.255', '256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1..2.3'];
    for (const s of [...samples, '1.2.3.', '.1.2.3', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.-4', '1.2.3.0x1', '']) {
      expect(parseV4(s, 0, s.length) >= 0, s).toBe(isIPv4(s));
    }
    expect(parseV4('203.0.113.7', 0, 11)).toBe(0xcb007107);
  });
});

describe('parseV6', () => {
  it('expands :: and embedded IPv4 tails', () => {
    expect(groups('::')).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(groups('::1')).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(groups('2001:db8::')).toEqual([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]);
    expect(groups('2001:DB8:0:0:1::2')).toEqual([0x2001, 0xdb8, 0, 0, 1, 0, 0, 2]);
    expect(groups('::ffff:8.8.4.4')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0808, 0x0404]);
    expect(groups('1:2:3:4:5:6:7:8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('agrees with node:net on malformed input', () => {
    const samples = [
      ':',
      ':::',
      '1:::2',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      '12345::',
      'g::1',
      '1:2:3:4:5:6:7::',
    ];
    for (const s of [...samples, '::1:', ':1::', '1:2:3:4:5:6:1.2.3.4', '::1.2.3', '::1.2.3.4:5', '1::2:3:4:5:6:7:8']) {
      expect(groups(s) !== null, s).toBe(isIPv6(s));
    }
  });

  it('reads what URL normalisation writes, for random addresses', () => {
    for (let n = 0; n < 2000; n++) {
      const words = Array.from({ length: 8 }, () => (Math.random() < 0.4 ? 0 : Math.floor(Math.random() * 0x10000)));
      const full = words.map((w) => w.toString(16)).join(':');
      const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1);
      expect(groups(full), full).toEqual(words);
      expect(groups(compressed), compressed).toEqual(words);
    }
  });
});

describe('classifyAddress', () => {
  it('accepts public addresses and maps ::ffff:a.b.c.d to IPv4', () => {
    expect(classifyAddress('8.8.8.8')).toBe(ADDRESS_V4);
    expect(parsed.v4).toBe(0x08080808);
    expect(classifyAddress('::ffff:8.8.8.8')).toBe(ADDRESS_V4);
    expect(parsed.v4).toBe(0x08080808);
    expect(classifyAddress('::FFFF:808:808')).toBe(ADDRESS_V4);
    expect(parsed.v4).toBe(0x08080808);
    expect(classifyAddress('2001:4860:4860::8888')).toBe(ADDRESS_V6);
    expect([...parsed.v6]).toEqual([0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888]);
  });

  it('refuses private, reserved and documentation ranges', () => {
    const v4 = ['0.1.2.3', '10.0.0.1', '100.64.0.1', '100.127.255.255', '127.0.0.1', '169.254.10.10', '172.16.0.1'];
    const more = [
      '172.31.255.255',
      '192.0.0.8',
      '192.0.2.1',
      '192.168.1.1',
      '198.18.0.1',
      '198.19.1.1',
      '198.51.100.7',
    ];
    const rest = ['203.0.113.9', '224.0.0.1', '239.1.1.1', '240.0.0.1', '255.255.255.255', '::ffff:192.168.0.1'];
    const v6 = ['::', '::1', '::8.8.8.8', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', '2001:db8::1', '64:ff9b::1'];
    for (const ip of [...v4, ...more, ...rest, ...v6]) expect(classifyAddress(ip), ip).toBe(ADDRESS_NONE);
    for (const ip of [
      '100.63.255.255',
      '100.128.0.1',
      '172.15.0.1',
      '172.32.0.1',
      '192.0.1.1',
      '198.20.0.1',
      '223.1.1.1',
    ]) {
      expect(classifyAddress(ip), ip).toBe(ADDRESS_V4);
    }
  });

  it('refuses junk without throwing', () => {
    const junk = [
      '',
      'x',
      'localhost',
      '8.8.8.8:80',
      '[::1]',
      'fe80::1%eth0',
      '1.2.3.4/24',
      ' 8.8.8.8',
      'a'.repeat(1000),
    ];
    for (const ip of [...junk, undefined, null, 42, {}] as unknown as string[])
      expect(classifyAddress(ip)).toBe(ADDRESS_NONE);
  });
});
