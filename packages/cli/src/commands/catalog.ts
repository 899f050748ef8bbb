import type { Command } from 'commander';

export function registerCatalogCommands(_program: Command): void {}
