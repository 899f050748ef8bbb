import type { Command } from 'commander';

export function registerFaultsCommands(_program: Command): void {}
