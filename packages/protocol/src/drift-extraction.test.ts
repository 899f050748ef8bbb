// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Go result templates use ${N} and ${name}
import { describe, expect, it } from 'vitest';
import { compileExtraction, ExtractionError, maxExtractionInput } from './drift-extraction.ts';

const rx = (pattern: string, result?: string) => compileExtraction({ regex: { pattern, result } });

describe('compileExtraction', () => {
  it('applies the seed patterns', () => {
    const coredns = rx('^v([0-9]+\\.[0-9]+\\.[0-9]+)$', '$1');
    expect(coredns('v1.8.6')).toBe('1.8.6');
    expect(coredns('v1.8.6-rc1')).toBeNull();
    const kubelet = rx('^v([0-9]+\\.[0-9]+\\.[0-9]+)', '$1');
    expect(kubelet('v1.21.5-eks-bc4871b')).toBe('1.21.5');
    const chart = rx('^artifactory-([0-9]+\\.[0-9]+\\.[0-9]+)$', '$1');
    expect(chart('artifactory-107.33.12')).toBe('107.33.12');
    expect(chart('xray-107.33.12')).toBeNull();
    const myApp = rx('^myApp-v([0-9]+\\.[0-9]+\\.[0-9]+)$', '$1');
    expect(myApp('myApp-v3.1.0')).toBe('3.1.0');
    // Opvic's ImageTag default pattern
    expect(rx('.*:(.*)$', '$1')('k8s.gcr.io/coredns:1.7.0')).toBe('1.7.0');
  });

  it('without an extraction returns the trimmed text, or null when empty', () => {
    const plain = compileExtraction(undefined);
    expect(plain('  1.2.3\n')).toBe('1.2.3');
    expect(plain(' \n')).toBeNull();
  });

  it('defaults the result to $1, or to the whole match without groups', () => {
    expect(rx('nginx/([0-9.]+)')('nginx version: nginx/1.25.3\n')).toBe('1.25.3');
    expect(rx('[0-9]+\\.[0-9]+')('OpenSSL 3.0.13 30 Jan 2024')).toBe('3.0');
    expect(rx('(x)?([0-9]+)', '')('42')).toBeNull(); // unmatched group 1 yields empty, so no value
  });

  it('expands named groups, ${1} and $$ like Go', () => {
    const named = rx('^(?P<major>[0-9]+)\\.(?P<minor>[0-9]+)', '${major}.${minor}.0');
    expect(named('1.8-beta')).toBe('1.8.0');
    expect(rx('^(?P<v>[0-9.]+)$', '$v')('4.5.0.5')).toBe('4.5.0.5');
    expect(rx('^v([0-9]+)', '${1}x')('v12')).toBe('12x');
    expect(rx('^v([0-9]+)', '$$$1')('v12')).toBe('$12');
    expect(rx('^v([0-9]+)', '$1.$-')('v12')).toBe('12.$-'); // a lone $ is literal text
  });

  it('refuses $1x (Go reads it as a group named "1x") with a hint', () => {
    expect(() => rx('^v([0-9]+)', '$1x')).toThrow(ExtractionError);
    expect(() => rx('^v([0-9]+)', '$1x')).toThrow(/write \$\{N\}/);
  });

  it('refuses templates naming groups the pattern does not have', () => {
    expect(() => rx('^v([0-9]+)', '$2')).toThrow(/group 2 but the pattern has 1/);
    expect(() => rx('^v(?P<a>[0-9]+)', '${b}')).toThrow(/no group named "b"/);
    expect(() => rx('^v([0-9]+)', '${1')).toThrow(/malformed/);
    expect(() => rx('^v([0-9]+)', '${}')).toThrow(/malformed/);
  });

  it('refuses patterns RE2 does not accept', () => {
    for (const bad of ['^(?=v)[0-9]+', '(a)\\1', '(?<!x)y', '[a-', '(', 'a**', '']) {
      expect(() => rx(bad), bad).toThrow(ExtractionError);
    }
    expect(() => rx('(?=v)')).toThrow(/not valid RE2 syntax/);
    expect(() => compileExtraction({} as never)).toThrow(/expected \{ regex/);
  });

  it('refuses oversized patterns and templates', () => {
    expect(() => rx('a'.repeat(1025))).toThrow(/longer than 1024/);
    expect(() => rx('(a)', '$1'.repeat(200))).toThrow(/longer than 256/);
    expect(() => rx('((a{1000}){1000}){1000}')).toThrow(ExtractionError);
  });

  it('runs in linear time on a catastrophic-backtracking pattern', () => {
    const f = rx('(a+)+$');
    const input = `${'a'.repeat(30)}b`;
    const started = performance.now();
    expect(f(input)).toBeNull();
    expect(performance.now() - started).toBeLessThan(100);
    const nested = rx('^(a|a?)+$');
    const t2 = performance.now();
    expect(nested(`${'a'.repeat(5000)}b`)).toBeNull();
    expect(performance.now() - t2).toBeLessThan(1000);
  });

  it('bounds the input and output length', () => {
    const f = rx('^(.*)$');
    expect(f('a'.repeat(256))).toBe('a'.repeat(256));
    expect(() => f('a'.repeat(257))).toThrow(/limit 256/);
    expect(() => f('a'.repeat(maxExtractionInput + 1))).toThrow(/limit 65536/);
    expect(() => compileExtraction(undefined)('a'.repeat(maxExtractionInput + 1))).toThrow(ExtractionError);
  });

  it('uses the first match only', () => {
    expect(rx('v([0-9]+)')('v1 v2 v3')).toBe('1');
  });
});
