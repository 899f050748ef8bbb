// docs/federation.md stays true to the CLI: every command it shows exists, with the options it uses.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from './program.ts';

const doc = readFileSync(new URL('../../../docs/federation.md', import.meta.url), 'utf8');
const lines = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)]
  .flatMap((m) => (m[1] as string).split('\n'))
  .map((l) => l.replace(/#.*$/, '').trim())
  .filter((l) => l.startsWith('flotilla '));

function find(program: Command, words: string[]): { cmd: Command; rest: string[] } {
  let cmd = program;
  let i = 0;
  for (; i < words.length; i++) {
    const sub = cmd.commands.find((c) => c.name() === words[i]);
    if (!sub) break;
    cmd = sub;
  }
  return { cmd, rest: words.slice(i) };
}

describe('docs/federation.md', () => {
  it('shows commands', () => expect(lines.length).toBeGreaterThan(5));

  it.each(lines)('%s', (line) => {
    const { cmd, rest } = find(buildProgram(), line.split(/\s+/).slice(1));
    expect(cmd.name()).not.toBe('flotilla');
    const known = new Set(cmd.options.map((o) => o.long));
    for (const flag of rest.filter((w) => w.startsWith('--')))
      expect(known, `${flag} of ${cmd.name()}`).toContain(flag);
  });

  it('documents every federation option of `flotilla server`', () => {
    const server = buildProgram().commands.find((c) => c.name() === 'server') as Command;
    const flags = server.options.map((o) => o.long as string).filter((f) => f.startsWith('--provider-'));
    expect(flags.length).toBe(5);
    for (const flag of flags) expect(doc).toContain(`\`${flag}`);
  });
});
