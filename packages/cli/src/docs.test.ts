import { readFileSync } from 'node:fs';
import { agentOptionTable } from '@flotilla/agent';
import { serverOptionTable } from '@flotilla/server';
import { describe, expect, it } from 'vitest';
import { buildProgram } from './program.ts';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const agentDoc = readFileSync(new URL('../../../docs/agent.md', import.meta.url), 'utf8');

describe('the README stays true to the CLI', () => {
  it.each(serverOptionTable.map((o) => [o.flag.split(' ')[0] as string, o.env]))('documents %s and %s', (flag, env) => {
    expect(readme).toContain(`\`${flag}`);
    expect(readme).toContain(`\`${env}\``);
  });

  it('offers exactly the documented options on `flotilla server`', () => {
    const server = buildProgram().commands.find((c) => c.name() === 'server');
    const flags = server?.options.map((o) => o.long).sort();
    // --until-replaced is a way of starting, not a setting: documented apart from the table.
    expect(flags).toEqual([...serverOptionTable.map((o) => o.flag.split(' ')[0]), '--until-replaced'].sort());
    expect(readme).toContain('`--until-replaced`');
  });
});

describe('docs/agent.md stays true to `flotilla agent`', () => {
  it.each(agentOptionTable.map((o) => [o.flag.split(' ')[0] as string, o.env]))('documents %s and %s', (flag, env) => {
    expect(agentDoc).toContain(`\`${flag}`);
    expect(agentDoc).toContain(`\`${env}\``);
  });

  it('offers exactly the documented options on `flotilla agent`', () => {
    const agent = buildProgram().commands.find((c) => c.name() === 'agent');
    const flags = agent?.options.map((o) => o.long).sort();
    expect(flags).toEqual([...agentOptionTable.map((o) => o.flag.split(' ')[0]), '--log-level'].sort());
  });
});
