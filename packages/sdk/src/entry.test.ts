import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import * as sdk from './index.ts';

const sourceDirectory = new URL('./', import.meta.url);

describe('main entry', () => {
  it('exports the public API', () => {
    expect(Object.keys(sdk).sort()).toEqual([
      'UpgradeCheckError',
      'checkForUpgrade',
      'compareVersions',
      'loadOrCreateInstanceId',
      'parseVersion',
      'resolveCheckUrl',
      'startUpgradeChecker',
      'webStorageInstanceIdStorage',
    ]);
  });

  it('uses nothing Node-specific, so it runs in browsers', async () => {
    const files = (await readdir(sourceDirectory)).filter(
      (file) => file.endsWith('.ts') && !file.includes('.test.') && file !== 'node.ts',
    );
    expect(files).toContain('index.ts');
    for (const file of files) {
      const source = await readFile(new URL(file, sourceDirectory), 'utf8');
      expect(source, file).not.toMatch(/from 'node:|require\(|\bprocess\.|\bBuffer\b|NodeJS\./);
    }
  });
});
