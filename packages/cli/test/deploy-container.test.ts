// deploy/Containerfile, checked as text (no container runtime runs in the tests): base images pinned to
// the `node` devDependency's exact version, a runtime stage that takes only the installed release
// bundle and runs as a non-root user, and an entry point and paths the Kubernetes manifests agree with.
// What this cannot prove (that the image builds and starts) is said in docs/operations.md.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const repo = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, repo), 'utf8');

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  steps: Instruction[];
}

/** Instructions with their continuation lines joined, comments dropped; split into stages at FROM. */
function parseContainerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const joined = text
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, op = '', rest = ''] = m;
    if (op === 'ARG' && stages.length === 0) {
      const [name = '', value = ''] = rest.split('=');
      args.set(name, value);
    } else if (op === 'FROM') {
      const [image = '', , name] = rest.split(/\s+/);
      stages.push({
        from: image.replace(/\$\{(\w+)\}/g, (_, v: string) => args.get(v) ?? `\${${v}}`),
        name,
        steps: [],
      });
    } else stages.at(-1)?.steps.push({ op, args: rest.trim() });
  }
  return { args, stages };
}

const { args, stages } = parseContainerfile(read('deploy/Containerfile'));
const build = stages[0] as Stage;
const runtime = stages.at(-1) as Stage;
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version: string }> };
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML manifests
const k8s = (path: string) => parse(read(path)) as any;

describe('deploy/Containerfile', () => {
  it('pins every base image to the Node version of package-lock.json', () => {
    const pinned = lock.packages['node_modules/node']?.version as string;
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(args.get('NODE_VERSION')).toBe(pinned);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.from).toBe(`docker.io/library/node:${pinned}-bookworm-slim`);
  });

  it('builds with npm ci and npm run package, and installs the release bundle', () => {
    const runs = build.steps.filter((s) => s.op === 'RUN').map((s) => s.args);
    expect(runs.join(' && ')).toMatch(/npm ci .*&& npm run package/);
    const cli = JSON.parse(read('packages/cli/package.json')) as { version: string; bin: { flotilla: string } };
    // scripts/package.mjs writes release/flotilla-<version>.tgz, which the glob must name.
    expect(read('scripts/package.mjs')).toMatch(/flotilla-<version>\.tgz/);
    const glob = /\/src\/release\/(flotilla-\[0-9\]\*\.tgz)/.exec(runs.join(' '))?.[1];
    expect(glob).toBe('flotilla-[0-9]*.tgz');
    expect(`flotilla-${cli.version}.tgz`).toMatch(/^flotilla-[0-9].*\.tgz$/);
    // Everything the build copies from the clone exists there.
    for (const copy of build.steps.filter((s) => s.op === 'COPY')) {
      for (const source of copy.args.split(/\s+/).slice(0, -1)) {
        expect(existsSync(fileURLToPath(new URL(source, repo))), source).toBe(true);
      }
    }
  });

  it('takes only the built bundle into the runtime stage and runs as a non-root user', () => {
    const copies = runtime.steps.filter((s) => s.op === 'COPY' || s.op === 'ADD');
    expect(copies.map((s) => s.args)).toEqual([`--from=${build.name} /opt/flotilla /opt/flotilla`]);
    const users = runtime.steps.filter((s) => s.op === 'USER');
    expect(users).toHaveLength(1);
    expect(users[0]?.args).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    // No step runs after the switch to that user could undo it.
    const userAt = runtime.steps.indexOf(users[0] as Instruction);
    expect(runtime.steps.slice(userAt).map((s) => s.op)).not.toContain('RUN');
  });

  it('agrees with the Kubernetes manifests: entry point, user and data directories', () => {
    const entrypoint = JSON.parse(runtime.steps.find((s) => s.op === 'ENTRYPOINT')?.args ?? '[]') as string[];
    const bin = (JSON.parse(read('packages/cli/package.json')) as { bin: { flotilla: string } }).bin.flotilla;
    expect(entrypoint).toEqual(['node', `/opt/flotilla/node_modules/@flotilla/cli/${bin.replace('./', '')}`]);
    const uid = Number(runtime.steps.find((s) => s.op === 'USER')?.args.split(':')[0]);
    const server = k8s('deploy/kubernetes/server/deployment.yaml').spec.template.spec;
    // The DaemonSet's file has one document.
    const agent = k8s('deploy/kubernetes/agent/daemonset.yaml').spec.template.spec;
    expect(server.securityContext.runAsUser).toBe(uid);
    expect(agent.securityContext.runAsUser).toBe(uid);
    const dirs = runtime.steps.find((s) => s.op === 'RUN' && s.args.includes('install -d'))?.args ?? '';
    expect(dirs).toContain(`-o ${uid} -g ${uid}`);
    const serverDir = (server.containers[0].args as string[]).find((a) => a.startsWith('--data-dir='))?.slice(11);
    const agentDir = (agent.containers[0].args as string[]).find((a) => a.startsWith('--dir='))?.slice(6);
    for (const dir of [serverDir, agentDir]) expect(dirs.split(/\s+/), dir).toContain(dir);
    expect(runtime.steps.find((s) => s.op === 'ENV')?.args).toBe(`FLOTILLA_DATA_DIR=${serverDir}`);
  });
});
