// The agent's own service slot: its own version runs in-process, any other as a real trial child that
// gets the settings and its status file, and is asked with SIGUSR2 to leave its services when stopped.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSupervisor } from '../supervisor/process-supervisor.ts';
import type { AgentSupervisor } from '../supervisor/types.ts';
import { AgentSlot } from './agent-slot.ts';

const trialScript = `
const { writeFileSync } = require('node:fs');
const out = process.argv[1];
writeFileSync(out + '.env', JSON.stringify(process.env));
process.on('SIGUSR2', () => { writeFileSync(out + '.usr2', ''); process.exit(0); });
setInterval(() => {}, 1000);
`;

describe('AgentSlot', () => {
  let dir: string;
  let trials: AgentSupervisor;
  let events: string[];
  let slot: AgentSlot;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'flotilla-slot-'));
    for (const v of ['1.0.0', '2.0.0']) mkdirSync(join(dir, v));
    trials = createSupervisor({ name: 'flotilla-agent', logDir: join(dir, 'logs') });
    events = [];
    slot = new AgentSlot({
      ownVersion: '1.0.0',
      trials,
      trialEnv: { FLOTILLA_AGENT_SERVER: 'http://127.0.0.1:1' },
      statusFileOf: (v) => join(dir, v, 'status.json'),
      startOwn: (statusFile) => events.push(`start ${statusFile}`),
      stopOwn: async () => {
        events.push('stop');
      },
    });
  });
  afterEach(async () => {
    await trials.stop(1000, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const spec = (version: string) => ({
    command: process.execPath,
    args: ['-e', trialScript, join(dir, 'trial')],
    env: {},
    workingDir: dir,
    version,
  });

  it('starts and stops its own version in this process', async () => {
    slot.start(spec('1.0.0'));
    expect(events).toEqual([`start ${join(dir, '1.0.0', 'status.json')}`]);
    expect(slot.status()).toMatchObject({ state: 'running', pid: process.pid });
    await slot.stop();
    expect(events).toEqual([`start ${join(dir, '1.0.0', 'status.json')}`, 'stop']);
    expect(slot.status().state).toBe('stopped');
  });

  it('runs another version as a trial child with the settings, and asks it to leave with SIGUSR2', async () => {
    slot.start(spec('2.0.0'));
    const envFile = join(dir, 'trial.env');
    const until = Date.now() + 10_000;
    while (!existsSync(envFile) && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
    const env = JSON.parse(readFileSync(envFile, 'utf8')) as Record<string, string>;
    expect(env).toMatchObject({
      FLOTILLA_AGENT_SERVER: 'http://127.0.0.1:1',
      FLOTILLA_AGENT_WORKER: '1',
      FLOTILLA_AGENT_VERSION: '2.0.0',
      FLOTILLA_AGENT_STATUS_FILE: join(dir, '2.0.0', 'status.json'),
    });
    expect(slot.status().pid).not.toBe(process.pid);
    expect(events).toEqual([]);
    await slot.stop();
    expect(existsSync(join(dir, 'trial.usr2'))).toBe(true);
    expect(slot.status().state).toBe('stopped');
  });
});
