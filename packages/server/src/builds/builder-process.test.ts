import type { BuildJob } from '@flotilla/protocol';
import { describe, expect, it } from 'vitest';
import { builderArguments, failureOf } from './builder-process.ts';

const job: BuildJob = {
  id: 7,
  kind: 'version',
  service: 'web',
  from: null,
  consumer: null,
  tagSources: false,
  version: null,
  sources: [{ name: 'app', url: 'https://git.example.com/web.git', ref: 'main', subdir: 'srv' }],
  macros: { edition: 'pro' },
  privateFiles: [],
  setDesired: null,
  state: 'running',
  requestedBy: 'dev',
  createdAt: '',
  startedAt: null,
  finishedAt: null,
  resultVersion: null,
  error: null,
  logBytes: 0,
};

describe('builderArguments', () => {
  it('runs `build` for a version, with its sources, macros and version', () => {
    expect(builderArguments({ ...job, version: '2.0.0', setDesired: 'test' }, '/jobs/7')).toEqual([
      ...['build', 'web', '2.0.0', '--source', 'app=https://git.example.com/web.git#main:srv'],
      ...['--macro', 'edition=pro', '--set-desired', 'test', '--server-job', '/jobs/7'],
    ]);
  });

  it('passes on submodules and source tagging', () => {
    const sources = [...job.sources, { name: 'lib', url: 'git://h/lib.git', ref: '', submodules: true }];
    const args = builderArguments({ ...job, sources, tagSources: true }, '/jobs/7');
    expect(args.join(' ')).toContain('--source lib=git://h/lib.git# --submodules lib --tag-sources --macro');
  });

  it('runs `client-version build` for a client version, naming the consumer it is for', () => {
    const client: BuildJob = { ...job, kind: 'client', from: '3.5.1', consumer: 'acme' };
    expect(builderArguments(client, '/jobs/7')).toEqual([
      ...['client-version', 'build', 'web', '--from', '3.5.1'],
      ...['--settings', 'app=https://git.example.com/web.git#main:srv', '--macro', 'edition=pro'],
      ...['--for-consumer', 'acme', '--server-job', '/jobs/7'],
    ]);
    expect(builderArguments({ ...client, consumer: null }, '/j')).not.toContain('--for-consumer');
  });
});

describe('failureOf', () => {
  it("takes the builder's last own reason, else how it ended", () => {
    expect(failureOf('x\nflotilla: first\nflotilla: second\n', 1, null)).toBe('second');
    expect(failureOf('nothing said\n', null, 'SIGKILL')).toBe('the builder exited with signal SIGKILL');
  });
});
