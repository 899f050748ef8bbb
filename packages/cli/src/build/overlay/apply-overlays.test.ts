// biome-ignore-all lint/suspicious/noTemplateCurlyInString: HOCON substitutions are written ${path}, not JS templates
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BuildInputError } from '../macros.ts';
import { applyOverlays } from './apply-overlays.ts';
import { readHocon } from './hocon-read.test.helper.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flotilla-overlay-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function tree(name: string, files: Record<string, string | Buffer>): string {
  const root = join(dir, name);
  mkdirSync(root, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  return root;
}

/** Every file of a tree with its content, to show that a failed run changed nothing. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true }))
    if (entry.isFile())
      out[join(entry.parentPath, entry.name).slice(root.length + 1)] = readFileSync(
        join(entry.parentPath, entry.name),
        'latin1',
      );
  return out;
}

function failure(run: () => unknown): BuildInputError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BuildInputError);
    return error as BuildInputError;
  }
  return expect.unreachable('no error') as never;
}

const manifest = JSON.stringify({ run: { command: 'bin/run.sh', args: ['--version=%%version%%'] } }, null, 2);

describe('applyOverlays', () => {
  it('merges, expands, adds and replaces, and reports each step', () => {
    const build = tree('build', {
      'conf/app.conf': 'http { port = %%port%%, host = 0.0.0.0 }\ndb.url = ${?DB_URL}\n',
      'conf/app.json': '{\n  "level": "info",\n  "tags": ["a"]\n}\n',
      'conf/app.properties': 'region=us\n',
      'bin/run.sh': '#!/bin/sh\necho dev\n',
      'flotilla.json': manifest,
      'data/blob.bin': Buffer.from([0, 1, 2, 37, 37]),
    });
    const base = tree('base', {
      'conf/app.conf': 'http.host = 10.0.0.1\n',
      'conf/app.conf.defines': 'port=8080\n',
      'conf/app.json': '{"tags": ["b"], "level": "%%level%%"}',
      'conf/app.json.defines': 'level=warn\n',
      'bin/run.sh': '#!/bin/sh\necho client\n',
    });
    const acme = tree('acme', {
      'conf/app.2.conf': 'http.port = 9443\n',
      'conf/app.1.properties': 'region=eu\n',
      'keys/client.key': Buffer.from([0, 255, 1]),
      'flotilla.json': '{"run": {"env": {"CLIENT": "acme"}}}',
      '.git/config': '[core]\n',
    });
    const report = applyOverlays({
      buildDir: build,
      settings: [
        { name: 'base', dir: base },
        { name: 'acme', dir: acme },
      ],
      macros: { port: '1', level: 'debug' },
    });
    const read = (rel: string) => readFileSync(join(build, rel), 'utf8');
    expect(readHocon(read('conf/app.conf'))).toEqual({ http: { port: 9443, host: '10.0.0.1' }, db: {} });
    expect(readHocon(read('conf/app.conf'), { DB_URL: 'pg://x' }).db).toEqual({ url: 'pg://x' });
    expect(read('conf/app.conf')).toContain('db.url = ${?DB_URL}');
    expect(JSON.parse(read('conf/app.json'))).toEqual({ level: 'warn', tags: ['b'] });
    expect(read('conf/app.properties')).toBe('region=eu\n');
    expect(read('bin/run.sh')).toContain('echo client');
    expect([...readFileSync(join(build, 'keys/client.key'))]).toEqual([0, 255, 1]);
    expect(JSON.parse(read('flotilla.json'))).toEqual({
      run: { command: 'bin/run.sh', args: ['--version=%%version%%'], env: { CLIENT: 'acme' } },
    });
    expect(report.manifestChecked).toBe(true);
    expect(report.files).toEqual([
      {
        path: 'bin/run.sh',
        action: 'replaced',
        format: 'file',
        from: 'base/bin/run.sh',
        overlays: [],
        definesFiles: [],
        macros: {},
      },
      {
        path: 'conf/app.conf',
        action: 'merged',
        format: 'conf',
        overlays: ['base/conf/app.conf', 'acme/conf/app.2.conf'],
        definesFiles: ['base/conf/app.conf.defines'],
        macros: { port: 'base/conf/app.conf.defines' },
      },
      {
        path: 'conf/app.json',
        action: 'merged',
        format: 'json',
        overlays: ['base/conf/app.json'],
        definesFiles: ['base/conf/app.json.defines'],
        macros: { level: 'base/conf/app.json.defines' },
      },
      {
        path: 'conf/app.properties',
        action: 'merged',
        format: 'properties',
        overlays: ['acme/conf/app.1.properties'],
        definesFiles: [],
        macros: {},
      },
      {
        path: 'flotilla.json',
        action: 'merged',
        format: 'json',
        overlays: ['acme/flotilla.json'],
        definesFiles: [],
        macros: {},
      },
      {
        path: 'keys/client.key',
        action: 'added',
        format: 'file',
        from: 'acme/keys/client.key',
        overlays: [],
        definesFiles: [],
        macros: {},
      },
    ]);
    expect(readdirSync(join(build, 'conf')).sort()).toEqual(['app.conf', 'app.json', 'app.properties']);
    expect(readdirSync(build).sort()).toEqual(['bin', 'conf', 'data', 'flotilla.json', 'keys']);
  });

  it('takes command-line macros where no .defines gives a value, and a later tree’s .defines over an earlier one', () => {
    const build = tree('build', {
      'a.conf': 'x = %%x%%\ny = %%y%%\n',
      'untouched.properties': 'v=%%x%%\n',
      'script.sh': 'echo %%x%%\n',
    });
    const one = tree('one', { 'a.conf.defines': 'x=1\n' });
    const two = tree('two', { 'a.conf.defines': 'x=2\n' });
    const report = applyOverlays({
      buildDir: build,
      settings: [
        { name: 'one', dir: one },
        { name: 'two', dir: two },
      ],
      macros: { x: 'cli', y: 'cli' },
    });
    expect(readFileSync(join(build, 'a.conf'), 'utf8')).toBe('x = 2\ny = cli\n');
    expect(readFileSync(join(build, 'untouched.properties'), 'utf8')).toBe('v=cli\n');
    expect(readFileSync(join(build, 'script.sh'), 'utf8')).toBe('echo %%x%%\n'); // no .defines: not expanded
    expect(report.files.find((f) => f.path === 'a.conf')?.macros).toEqual({
      x: 'two/a.conf.defines',
      y: 'command line',
    });
    expect(report.files.find((f) => f.path === 'untouched.properties')).toMatchObject({
      action: 'expanded',
      macros: { x: 'command line' },
    });
  });

  it('stops on an undefined macro with its file and line, leaving the tree as it was', () => {
    const build = tree('build', { 'a.conf': 'a = 1\n', 'b.json': '{}' });
    const settings = tree('s', { 'b.json': '{"ok": true}', 'a.1.conf': 'a = 2\nb = %%missing%%\n' });
    const before = snapshot(build);
    const error = failure(() => applyOverlays({ buildDir: build, settings: [{ name: 's', dir: settings }] }));
    expect(error.message).toBe('s/a.1.conf:2: macro %%missing%% is not defined');
    expect(snapshot(build)).toEqual(before);
  });

  it('stops on an overlay that does not parse, and on a manifest that no longer fits its schema', () => {
    const build = tree('build', { 'a.json': '{"a": 1}', 'flotilla.json': manifest });
    const before = snapshot(build);
    const bad = tree('bad', { 'a.json': '{\n  "a": 2,\n  oops\n}' });
    expect(failure(() => applyOverlays({ buildDir: build, settings: [{ name: 'bad', dir: bad }] })).message).toMatch(
      /^bad\/a\.json:3: not valid JSON/,
    );
    const wrong = tree('wrong', { 'flotilla.json': '{"run": {"command": 7}, "colour": "red"}' });
    const error = failure(() => applyOverlays({ buildDir: build, settings: [{ name: 'wrong', dir: wrong }] }));
    expect(error.message).toMatch(/^flotilla\.json: is not a valid install manifest: .*\/colour: unknown property/);
    expect(error.message).toContain('/run/command');
    expect(snapshot(build)).toEqual(before);
  });

  it('refuses paths and links that leave a tree', () => {
    const outside = tree('outside', { 'secret.conf': 'a = 1\n' });
    const build = tree('build', { 'a.conf': 'a = 0\n' });
    const linked = tree('linked', {});
    symlinkSync(join(outside, 'secret.conf'), join(linked, 'a.conf'));
    expect(failure(() => applyOverlays({ buildDir: build, settings: [{ name: 'linked', dir: linked }] })).message).toBe(
      'linked/a.conf: symbolic link points outside its tree',
    );
    // a link in the build tree that leads out cannot be written through
    symlinkSync(outside, join(build, 'etc'));
    const adds = tree('adds', { 'etc/secret.conf': 'a = 2\n' });
    expect(failure(() => applyOverlays({ buildDir: build, settings: [{ name: 'adds', dir: adds }] })).message).toBe(
      'etc/secret.conf: etc is a link that leaves the tree',
    );
    expect(readFileSync(join(outside, 'secret.conf'), 'utf8')).toBe('a = 1\n');
    expect(failure(() => applyOverlays({ buildDir: build, settings: [{ name: '..', dir: adds }] })).message).toContain(
      'unique plain name',
    );
  });

  it('bounds settings files and refuses macros in binary files', () => {
    const build = tree('build', { 'a.json': '{}', 'logo.png': Buffer.from([137, 80, 0, 1]) });
    const big = tree('big', { 'a.json': `{"pad": "${'x'.repeat(2048)}"}` });
    expect(
      failure(() =>
        applyOverlays({
          buildDir: build,
          settings: [{ name: 'big', dir: big }],
          limits: { maxSettingsFileBytes: 1024 },
        }),
      ).message,
    ).toBe('big/a.json: 2059 bytes is more than the 1024 bytes a settings file may have');
    const defs = tree('defs', { 'logo.png.defines': 'a=1\n' });
    expect(failure(() => applyOverlays({ buildDir: build, settings: [{ name: 'defs', dir: defs }] })).message).toBe(
      'logo.png: is binary (not UTF-8 text)',
    );
  });

  it('applies 50 overlays to one tree in index order', () => {
    const build = tree('build', {
      'conf/app.conf': 'counter = 0\nhistory = []\n',
      'conf/app.json': '{"counter": 0}',
      'conf/app.properties': 'counter=0\n',
    });
    const files: Record<string, string> = {};
    for (let i = 1; i <= 50; i++) {
      files[`conf/app.${i}.conf`] = `counter = ${i}\nhistory += ${i}\nlayer${i}.on = true\n`;
      files[`conf/app.${i}.json`] = JSON.stringify({ counter: i, [`layer${i}`]: true });
      files[`conf/app.${i}.properties`] = `counter=${i}\nlayer${i}=on\n`;
    }
    const settings = tree('fifty', files);
    const report = applyOverlays({ buildDir: build, settings: [{ name: 'fifty', dir: settings }] });
    const conf = readHocon(readFileSync(join(build, 'conf/app.conf'), 'utf8'));
    expect(conf.counter).toBe(50);
    expect(conf.history).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const json = JSON.parse(readFileSync(join(build, 'conf/app.json'), 'utf8'));
    expect(json.counter).toBe(50);
    expect(Object.keys(json)).toHaveLength(51);
    expect(readFileSync(join(build, 'conf/app.properties'), 'utf8')).toMatch(/^counter=50\n[\s\S]*layer50 = on\n$/);
    const merged = report.files.find((f) => f.path === 'conf/app.conf');
    expect(merged?.overlays).toHaveLength(50);
    expect(merged?.overlays.slice(8, 11)).toEqual([
      'fifty/conf/app.9.conf',
      'fifty/conf/app.10.conf',
      'fifty/conf/app.11.conf',
    ]);
  });
});
