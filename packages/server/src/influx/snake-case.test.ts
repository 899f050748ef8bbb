import { describe, expect, it } from 'vitest';
import { toSnakeCase } from './snake-case.ts';

describe('toSnakeCase', () => {
  // Expected values follow upgrade-responder's Go regexes, including their quirks.
  it.each([
    ['kubernetesVersion', 'kubernetes_version'],
    ['nodeCount', 'node_count'],
    ['cni-plugin', 'cni_plugin'],
    ['appVersion', 'app_version'],
    ['value', 'value'],
    ['already_snake', 'already_snake'],
    ['HTTPServer', 'http_server'],
    ['getHTTPResponse', 'get_http_response'],
    ['ID', 'id'],
    ['userID', 'user_id'],
    ['k8sVersion', 'k8s_version'],
    ['v2Beta', 'v2_beta'],
    ['Host-OS', 'host_os'],
    ['longhornEngineImage', 'longhorn_engine_image'],
    ['ABCDef', 'abc_def'],
    ['aBC', 'a_bc'],
    ['with space', 'with space'],
    ['', ''],
  ])('%j → %j', (input, expected) => {
    expect(toSnakeCase(input)).toBe(expected);
  });

  it('lowercases one code point at a time, like Go', () => {
    expect(toSnakeCase('ΟΔΟΣ')).toBe('οδοσ');
    expect(toSnakeCase('İstanbul')).toBe('istanbul');
  });

  it('returns the same answer from the cache', () => {
    expect(toSnakeCase('cachedKey')).toBe('cached_key');
    expect(toSnakeCase('cachedKey')).toBe('cached_key');
  });
});
