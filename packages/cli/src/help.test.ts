import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from './program.ts';

function helpOf(cmd: Command): string {
  let out = '';
  cmd.configureOutput({ writeOut: (s) => (out += s) });
  cmd.outputHelp();
  return out;
}

function allCommands(cmd: Command, path: string[] = []): Array<[string, Command]> {
  return cmd.commands.flatMap((c) => [
    [[...path, c.name()].join(' '), c] as [string, Command],
    ...allCommands(c, [...path, c.name()]),
  ]);
}

const program = buildProgram();
const commands = allCommands(program);

describe('help texts in one style', () => {
  it.each(commands)('%s: lower-case descriptions without a trailing period', (_name, cmd) => {
    const texts = [cmd.description(), ...cmd.options.map((o) => o.description)];
    for (const text of texts) {
      // An acronym, a name (InfluxDB) or a quoted value may lead; a capitalised word may not.
      expect(text, text).not.toMatch(/^[A-Z][a-z]+\b/);
      expect(text, text).not.toMatch(/\.$/);
    }
  });

  it.each(commands)('%s: names each environment variable once', (_name, cmd) => {
    const vars = helpOf(cmd).match(/\bFLOTILLA_[A-Z_]+/g) ?? [];
    expect(vars.length, vars.join(' ')).toBe(new Set(vars).size);
  });

  const main = [
    '',
    'login',
    'user add',
    'token create',
    'service create',
    'version publish',
    'env create',
    'desired set',
    'rollout start',
    'logs',
    'fleet',
    'faults list',
  ];
  it.each(main)('flotilla %s shows examples', (name) => {
    const cmd = name ? commands.find(([n]) => n === name)?.[1] : program;
    expect(cmd, name).toBeDefined();
    const help = helpOf(cmd as Command);
    expect(help).toMatch(/\nExamples:\n {2}\$ flotilla /);
  });
});
