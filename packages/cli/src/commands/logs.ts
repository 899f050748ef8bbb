import type { Command } from 'commander';

export function registerLogsCommands(_program: Command): void {}
