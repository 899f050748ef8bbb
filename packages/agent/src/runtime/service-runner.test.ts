import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentLayout } from '../layout.ts';
import type { LogLine } from '../logs/log-line.ts';
import { killGroup, tempDir, waitFor } from '../supervisor/fixtures.test.helper.ts';
import { saveManifest } from '../update/state.ts';
import { ServiceRunner } from './service-runner.ts';

let tmp: ReturnType<typeof tempDir>;
let runner: ServiceRunner | null = null;

beforeEach(() => {
  tmp = tempDir('runner');
});

afterEach(async () => {
  const pid = runner?.supervisor.status().pid;
  await runner?.supervisor.stop(500);
  killGroup(pid);
  runner = null;
  tmp.cleanup();
});

describe('service runner: log upload', () => {
  it('uploads every version’s lines by default, with their version and pid, unless its manifest says uploadLogs: false', async () => {
    const layout = agentLayout(join(tmp.dir, 'agent'));
    const service = layout.service('web');
    saveManifest(service, '1.0.0', { run: { command: 'node' } });
    saveManifest(service, '1.1.0', { run: { command: 'node' }, logs: { uploadLogs: false } });
    const uploaded: { version: string | null; pid: number | null; line: LogLine }[] = [];
    runner = new ServiceRunner('web', {
      layout,
      role: '',
      logger: { info() {}, warn() {}, error() {} },
      keepVersions: 3,
      onUploadLine: (_service, version, pid, line) => uploaded.push({ version, pid, line }),
      onFault: () => {},
      onChange: () => {},
    });
    const script = tmp.script('say.js', `console.log('hello from ' + process.argv[2]); setInterval(() => {}, 1000);`);
    const run = (version: string) => ({
      command: process.execPath,
      args: [script, version],
      env: {},
      workingDir: tmp.dir,
      version,
    });

    // A version under its health gate is not `current` yet: its lines go up marked with its version.
    runner.supervisor.start(run('1.0.0'));
    const pid = runner.supervisor.status().pid;
    await waitFor(() => uploaded.length > 0, 10_000, 'the line of 1.0.0');
    expect(uploaded).toEqual([
      { version: '1.0.0', pid, line: expect.objectContaining({ message: 'hello from 1.0.0' }) },
    ]);
    await runner.supervisor.stop(500);

    runner.supervisor.start(run('1.1.0'));
    await waitFor(() => runner?.supervisor.tail(1)[0] === 'hello from 1.1.0', 10_000, 'the line of 1.1.0');
    expect(uploaded).toHaveLength(1);
  });
});
