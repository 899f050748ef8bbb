import type { Command } from 'commander';

export function registerAccountsCommands(_program: Command): void {}
