// What applying a client's settings to a developer version costs: a realistic unpacked version
// (jars, static assets, configuration) and 50 overlays from several settings trees, applied with
// `.defines`, command-line macros, added files and the install manifest completed.
//
//   node --conditions=@flotilla/source scripts/bench-overlays.ts [--files 5000] [--mb 100] [--runs 5]
//
// Each run restores the overlaid files first (not timed), then times the whole application and its
// two halves: reading, merging and checking everything, then writing. Removes its temp dir.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { applyOverlays, computeOverlays } from '../packages/cli/src/build/overlay/apply-overlays.ts';
import { writeStaged } from '../packages/cli/src/build/overlay/write-staged.ts';

const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '5000' },
    mb: { type: 'string', default: '100' },
    runs: { type: 'string', default: '5' },
  },
});
const fileCount = Number(args.files);
const totalBytes = Number(args.mb) * 1024 * 1024;
const runs = Number(args.runs);

const root = mkdtempSync(join(tmpdir(), 'flotilla-bench-overlays-'));
const write = (path: string, content: string | Buffer) => {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
};

function hoconDefaults(): string {
  const lines = ['# service defaults', 'include "logging.conf"'];
  for (let s = 0; s < 40; s++) {
    lines.push(`section${s} {`);
    for (let k = 0; k < 12; k++) lines.push(`  key${k} = "value ${s}.${k}"`);
    lines.push(`  port = ${9000 + s}`, `  port = \${?PORT_${s}}`, `  hosts = [a${s}, b${s}]`, '}');
  }
  lines.push('service.name = "%%service%%"', 'service.region = %%region%%');
  return `${lines.join('\n')}\n`;
}

try {
  // The developer version: a fifth of the files are settings, the bytes are mostly in jars.
  const build = join(root, 'build');
  const conf: Record<string, string> = {
    'conf/application.conf': hoconDefaults(),
    'conf/logging.conf': 'level = INFO\n',
    'conf/app.json': `${JSON.stringify({ http: { port: 8080, cors: ['*'] }, features: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}`, i % 2 === 0])) }, null, 2)}\n`,
    'conf/app.properties': `${Array.from({ length: 300 }, (_, i) => `prop.${i}=value ${i}`).join('\n')}\n`,
    'flotilla.json': `${JSON.stringify({ run: { command: 'bin/start.sh', args: ['--version', '%%version%%'] } }, null, 2)}\n`,
  };
  for (const [rel, text] of Object.entries(conf)) write(join(build, rel), text);
  const jars = 200;
  const jarBytes = Math.floor((totalBytes * 0.9) / jars);
  const jar = Buffer.alloc(jarBytes, 7);
  for (let i = 0; i < jars; i++) write(join(build, `lib/dep-${i}.jar`), jar);
  const rest = fileCount - jars - Object.keys(conf).length;
  const smallBytes = Math.max(16, Math.floor((totalBytes * 0.1) / Math.max(rest, 1)));
  for (let i = 0; i < rest; i++) {
    const kind = i % 5 === 0 ? 'json' : i % 5 === 1 ? 'conf' : i % 5 === 2 ? 'properties' : 'html';
    write(
      join(build, `static/${i % 50}/page-${i}.${kind}`),
      kind === 'json' ? `{"pad": "${'x'.repeat(smallBytes)}"}` : 'x'.repeat(smallBytes),
    );
  }

  // 50 overlays over five settings trees, each with defines and a few added files.
  const settings = [] as { name: string; dir: string }[];
  let overlays = 0;
  for (let t = 0; t < 5; t++) {
    const dir = join(root, `settings-${t}`);
    settings.push({ name: `client${t}`, dir });
    for (let i = 1; i <= 4; i++) {
      const n = t * 4 + i;
      write(
        join(dir, `conf/application.${n}.conf`),
        `section${n}.port = ${10_000 + n}\nsection${n}.hosts = [c${n}]\nextra${n} { on = true }\n`,
      );
      overlays += 1;
      if (t < 2 && i === 4) continue; // 48 here, and two more below: 50 overlays
      write(
        join(dir, `conf/app.${n}.json`),
        JSON.stringify({ http: { port: 8000 + n }, features: { [`f${n}`]: true } }),
      );
      overlays += 1;
    }
    for (let i = 1; i <= 2; i++)
      write(join(dir, `conf/app.${20 + t * 2 + i}.properties`), `prop.${t}=client ${t}\nnew.${t}.${i}=yes\n`);
    overlays += 2;
    write(join(dir, 'conf/application.conf.defines'), `region=eu-${t}\n`);
    write(join(dir, `certs/client-${t}.pem`), Buffer.alloc(4096, t));
  }
  write(join(settings[0]?.dir as string, 'flotilla.json'), JSON.stringify({ run: { env: { CLIENT: 'acme' } } }));
  overlays += 1;
  write(join(settings[1]?.dir as string, 'conf/logging.conf'), 'level = WARN\n');
  overlays += 1;

  const options = { buildDir: build, settings, macros: { service: 'shop', region: 'us' } };
  const originals = Object.entries(conf);
  const restore = () => {
    for (const [rel, text] of originals) writeFileSync(join(build, rel), text);
    rmSync(join(build, 'certs'), { recursive: true, force: true });
  };
  const times = { compute: [] as number[], write: [] as number[], total: [] as number[] };
  let report = applyOverlays(options); // warm-up, and checks that it works
  for (let r = 0; r < runs; r++) {
    restore();
    const t0 = performance.now();
    const computed = computeOverlays(options);
    const t1 = performance.now();
    writeStaged(computed.outputs);
    const t2 = performance.now();
    times.compute.push(t1 - t0);
    times.write.push(t2 - t1);
    times.total.push(t2 - t0);
    report = computed.report;
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const merged = report.files.filter((f) => f.action === 'merged');
  const appConf = readFileSync(join(build, 'conf/application.conf'), 'utf8');
  console.log(
    `tree: ${fileCount} files, ${(totalBytes / 1024 / 1024).toFixed(0)} MB; settings: ${settings.length} trees, ${overlays} overlays`,
  );
  console.log(
    `report: ${report.files.length} files (${merged.length} merged, ${report.files.filter((f) => f.action === 'added').length} added, ${report.files.filter((f) => f.action === 'expanded').length} expanded), manifest checked: ${report.manifestChecked}`,
  );
  console.log(
    `application.conf: ${merged.find((f) => f.path === 'conf/application.conf')?.overlays.length} overlays, ${appConf.split('\n').length} lines`,
  );
  console.log(
    `median of ${runs} runs: total ${median(times.total).toFixed(0)} ms (read/merge/check ${median(times.compute).toFixed(0)} ms, write ${median(times.write).toFixed(0)} ms)`,
  );
  console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
