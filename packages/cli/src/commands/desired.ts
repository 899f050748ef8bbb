import type { Command } from 'commander';

export function registerDesiredCommands(_program: Command): void {}
