import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../server/test/support/temp-dir.ts';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const engines: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).engines.node;

// A Node older than the CLI needs, to run the built entry with: the system one on most machines.
const oldNode = process.env.FLOTILLA_OLD_NODE ?? '/usr/bin/node';
const oldVersion = existsSync(oldNode) ? execFileSync(oldNode, ['-p', 'process.version']).toString().trim() : '';
const [oldMajor = 99, oldMinor = 0] = oldVersion.slice(1).split('.').map(Number);
const haveOldNode = oldMajor < 22 || (oldMajor === 22 && oldMinor < 16);

describe('the Node version check of the flotilla entry point', () => {
  it('asks for the Node version that package.json asks for', () => {
    expect(engines).toBe('>=22.16');
    expect(readFileSync(main, 'utf8')).toContain(`const needed = '${engines.slice(2)}';`);
  });

  it('says what it needs and what it found, before loading the commands', () => {
    // Node 24 made to report an old version: the check must stop it before the program loads.
    const fake =
      "Object.defineProperty(process.versions,'node',{value:'20.20.2'});Object.defineProperty(process,'version',{value:'v20.20.2'});";
    const r = spawnSync(
      process.execPath,
      ['--import', `data:text/javascript,${encodeURIComponent(fake)}`, main, '--help'],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('flotilla needs Node.js 22.16 or newer; this is v20.20.2\n');
    expect(r.stdout).toBe('');
    expect(r.status).toBe(1);
  });

  it('runs the commands on a new enough Node', () => {
    const r = spawnSync(process.execPath, [main, '--help'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Usage: flotilla');
  });

  it.skipIf(!haveOldNode)(`stops cleanly on a real old Node (${oldNode} ${oldVersion})`, () => {
    // The entry as the build emits it, next to a stand-in for the program that old Node cannot load.
    const dir = makeTempDir('flotilla-old-node-');
    const { outputText } = ts.transpileModule(readFileSync(main, 'utf8'), {
      compilerOptions: {
        target: ts.ScriptTarget.ES2023,
        module: ts.ModuleKind.ESNext,
        rewriteRelativeImportExtensions: true,
      },
      fileName: 'main.ts',
    });
    expect(outputText).toMatch(/import\(["']\.\/program\.js["']\)/);
    // Nothing Node 12 and 13 cannot parse, so they too get the message rather than a syntax error.
    expect(outputText).not.toMatch(/\?\?|\?\.|^\s*await /m);
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    writeFileSync(join(dir, 'main.js'), outputText);
    writeFileSync(join(dir, 'program.js'), "import 'node:sqlite';\nexport function run() {}\n");
    const r = spawnSync(oldNode, [join(dir, 'main.js'), '--help'], { encoding: 'utf8' });
    expect(r.stderr).toBe(`flotilla needs Node.js 22.16 or newer; this is ${oldVersion}\n`);
    expect(r.status).toBe(1);
  });
});
