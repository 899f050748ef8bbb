import { describe, expect, it } from 'vitest';
import { manifestProblems } from '../../../../server/src/catalog/manifest.ts';
import { faultRegexToGlobs } from './fault-glob.ts';
import { nameValues, parseSpec } from './load-spec.ts';
import { installToManifest } from './to-manifest.ts';

// The seed's example shape, every field used once.
const seedSpec = {
  update: [
    { service: 'other', build: {} },
    {
      service: 'web',
      build: {
        buildCommands: [
          { command: 'make', args: ['VERSION=%%version%%'], env: [{ CC: 'gcc' }], directory: 'src', exitCode: 0 },
          { command: 'make', args: ['test'], outputMatch: 'PASS' },
        ],
        copyFiles: [
          { sourceFile: 'dist', destinationFile: 'bin', except: ['*.map'] },
          { sourceFile: 'conf/app.conf', destinationFile: 'conf/app.conf', settings: { port: '8080' } },
        ],
        install: {
          installCommands: [{ command: './install.sh', args: ['%%version%%', '%%dest%%'], env: { ROLE: '%%role%%' } }],
          postInstallCommands: [{ command: './migrate.sh', exitCode: 0 }],
          runService: {
            command: './bin/web',
            args: ['--role', '%%role%%'],
            writeLogs: { directory: 'log', filePrefix: 'web', maxFileSizeMB: 20, maxFilesCount: 7 },
            uploadLogs: false,
            faultFilesMatch: '^core\\..*$|\\.hprof$',
            restartOnFault: true,
            restartConditions: {
              maxMemoryMB: 512,
              maxCpu: { percents: 90, durationSec: 60 },
              makeCore: true,
              checkTimeoutMs: 1000,
            },
          },
        },
      },
    },
  ],
};

describe('update.json', () => {
  it('accepts the seed shape and picks the service entry', () => {
    const build = parseSpec(JSON.stringify(seedSpec), 'update.json', 'web');
    expect(build.buildCommands).toHaveLength(2);
    expect(() => parseSpec(JSON.stringify(seedSpec), 'update.json', 'api')).toThrow(
      'update.json: no entry for service "api" in update[] (it has: other, web)',
    );
  });

  it.each([
    ['{', 'not valid JSON'],
    ['{"update":[]}', '/update: must not have fewer than 1 items'],
    ['{"update":[{"service":"web","build":{"buildCommands":[{"command":"x","exitcode":1}]}}]}', 'unknown property'],
    ['{"update":[{"service":"web","build":{"copyFiles":[{"sourceFile":"a"}]}}]}', 'destinationFile: required'],
  ])('refuses %s', (text, message) => {
    expect(() => parseSpec(text, 'update.json', 'web')).toThrow(message);
  });

  it('reads env and settings as an object or a list of objects', () => {
    expect(nameValues([{ A: '1' }, { B: '2' }])).toEqual({ A: '1', B: '2' });
    expect(nameValues({ A: '1' })).toEqual({ A: '1' });
    expect(nameValues(undefined)).toEqual({});
  });
});

describe('install section to flotilla.json', () => {
  it('maps every field, expands --macro values and keeps the agent macros', () => {
    const build = parseSpec(JSON.stringify(seedSpec), 'update.json', 'web');
    const { manifest, notes } = installToManifest(build.install, { dest: '/opt/web' });
    expect(manifest).toEqual({
      install: [{ command: './install.sh', args: ['%%version%%', '/opt/web'], env: { ROLE: '%%role%%' } }],
      postInstall: [{ command: './migrate.sh' }],
      run: { command: './bin/web', args: ['--role', '%%role%%'] },
      logs: { maxFileSizeMB: 20, maxFilesCount: 7, uploadLogs: false },
      faultFilesMatch: ['core.*', '*.hprof'],
      restart: {
        maxMemoryMB: 512,
        maxCpu: { percents: 90, durationSec: 60 },
        makeCore: true,
        checkTimeoutMs: 1000,
        onFault: true,
      },
    });
    expect(manifestProblems(manifest)).toEqual([]);
    expect(notes).toEqual([
      "install.runService.writeLogs.directory is not applied: the agent keeps logs in the service's logs/",
      "install.runService.writeLogs.filePrefix is not applied: the agent keeps logs in the service's logs/",
    ]);
  });

  it('makes an empty manifest from no install section', () => {
    expect(installToManifest(undefined, {}).manifest).toEqual({});
  });

  it.each([
    [{ installCommands: [{ command: 'x', directory: 'sub' }] }, 'install.installCommands[0].directory: not supported'],
    [{ postInstallCommands: [{ command: 'x', exitCode: 3 }] }, 'install.postInstallCommands[0].exitCode'],
    [{ installCommands: [{ command: 'x', outputMatch: 'ok' }] }, 'install.installCommands[0].outputMatch'],
    [{ runService: { command: 'x', faultFilesMatch: 'core[0-9]+' } }, 'install.runService.faultFilesMatch: "["'],
    [{ runService: { command: '%%missing%%' } }, 'update.json install.runService.command:1: macro %%missing%%'],
  ])('refuses %j', (install, message) => {
    expect(() => installToManifest(install, {})).toThrow(message);
  });
});

describe('faultFilesMatch regex to globs', () => {
  it.each([
    ['^core$', ['core']],
    ['core', ['*core*']],
    ['^core\\..*', ['core.*']],
    ['\\.hprof$|^hs_err_pid.+\\.log$', ['*.hprof', 'hs_err_pid?*.log']],
    ['^dump.\\.bin$', ['dump?.bin']],
  ])('%s → %j', (regex, globs) => {
    expect(faultRegexToGlobs(regex)).toEqual(globs);
  });

  it.each(['core[0-9]', '(a|b)', '^$', 'a\\*'])('refuses %s', (regex) => {
    expect(() => faultRegexToGlobs(regex)).toThrow('glob');
  });
});
