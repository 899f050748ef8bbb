import { describe, expect, it } from 'vitest';
import { compileJsonPath, JsonPathError } from './jsonpath.ts';

const node = {
  metadata: { labels: { 'app.kubernetes.io/version': 'v1.2.3', chart: 'app-1.0.0', 'a.b': { c: 'nested' } } },
  spec: { containers: [{ image: 'a:1' }, { image: 'b:2' }, { name: 'no-image' }] },
  status: { nodeInfo: { kubeletVersion: 'v1.27.3' }, ready: true, count: 3 },
};

describe('compileJsonPath (kubectl subset)', () => {
  it.each([
    ['.status.nodeInfo.kubeletVersion', ['v1.27.3']],
    ['{.status.nodeInfo.kubeletVersion}', ['v1.27.3']],
    ['{ .status.nodeInfo.kubeletVersion }', ['v1.27.3']],
    ['$.status.nodeInfo.kubeletVersion', ['v1.27.3']],
    ['status.nodeInfo.kubeletVersion', ['v1.27.3']],
    ['.metadata.labels.app\\.kubernetes\\.io/version', ['v1.2.3']],
    [".metadata.labels['app.kubernetes.io/version']", ['v1.2.3']],
    ['.metadata.labels["chart"]', ['app-1.0.0']],
    ['.metadata.labels.a\\.b.c', ['nested']],
    ['.spec.containers[0].image', ['a:1']],
    ['.spec.containers[-1].name', ['no-image']],
    ['.spec.containers[*].image', ['a:1', 'b:2']],
    ['.spec.containers[7].image', []],
    ['.metadata.labels.missing', []],
    ['.status.ready', [true]],
    ['.status.count', [3]],
    ['.status.nodeInfo.*', ['v1.27.3']],
  ])('%s', (path, expected) => {
    expect(compileJsonPath(path)(node)).toEqual(expected);
  });

  it.each([
    ['.items[?(@.a=="b")].x', /position 7: \[\?\(@\.a=="b"\)\]: only \[n\], \[\*\] and \['key'\]/],
    ['..name', /recursive descent/],
    ['.a[1:2]', /only \[n\]/],
    ['.a[0,1]', /only \[n\]/],
    ['{range .items[*]}{.x}{end}', /not supported/],
    ['x {.a}', /not supported/],
    ['', /empty path/],
    ['.a.', /empty field name/],
    ['.a[0', /unclosed \[/],
    ['.a\\', /trailing backslash/],
    ['.a b', /unexpected " "/],
    ['.'.repeat(1025), /longer than 1024/],
  ])('refuses %s with a clear error', (path, message) => {
    expect(() => compileJsonPath(path)).toThrow(JsonPathError);
    expect(() => compileJsonPath(path)).toThrow(message);
  });
});
