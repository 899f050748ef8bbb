import { expect, it } from 'vitest';
import { changeText, rolloutHref } from './rollout-change.ts';

it('names each changed, added and removed service', () => {
  expect(
    changeText([
      { service: 'api', from: null, to: '2.0.0' },
      { service: 'web', from: '1.1.0', to: '1.2.0' },
      { service: 'worker', from: '0.9.0', to: null },
    ]),
  ).toBe('api 2.0.0 added, web 1.1.0 → 1.2.0, worker 0.9.0 removed');
  expect(changeText([])).toBe('no version change');
});

it('links to the rollout on the Rollouts page of its environment', () => {
  expect(rolloutHref('production', 'abc')).toBe('/rollouts?env=production#rollout-abc');
});
