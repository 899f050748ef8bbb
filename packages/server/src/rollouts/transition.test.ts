import { expect, it } from 'vitest';
import { changesBetween, describeChanges } from './transition.ts';

it('lists what a target changes against its base, by service, and says it in words', () => {
  const changes = changesBetween({ api: '2.0.0', web: '1.1.0', db: '5' }, { web: '1.2.0', db: '5', worker: '0.1.0' });
  expect(changes).toEqual([
    { service: 'api', from: '2.0.0', to: null },
    { service: 'web', from: '1.1.0', to: '1.2.0' },
    { service: 'worker', from: null, to: '0.1.0' },
  ]);
  expect(describeChanges(changes)).toBe('api 2.0.0 removed, web 1.1.0 → 1.2.0, worker 0.1.0 added');
  expect(describeChanges([])).toBe('no change');
});
