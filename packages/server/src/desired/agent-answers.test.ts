import { describe, expect, it } from 'vitest';
import { createAgentAnswers } from './agent-answers.ts';

function fakeService() {
  const calls = { views: 0, states: 0, perInstance: 0, tags: 0 };
  let current = 1;
  let rollout = false;
  let fail = false;
  const service = {
    async environmentRevisionState() {
      calls.states++;
      return { current, rollout };
    },
    async agentRevision(_env: string, instanceId?: string) {
      calls.perInstance++;
      return instanceId === 'early' ? current + 1 : current;
    },
    async agentView(environment: string, _profile: string | null = null, revision?: number) {
      calls.views++;
      if (fail) throw new Error('store down');
      return { environment, revision: revision ?? current, services: [] };
    },
    async profileTag(profile: string | null) {
      calls.tags++;
      return profile === null ? '' : `-${profile}-x`;
    },
  };
  return {
    service,
    calls,
    set: (next: { current?: number; rollout?: boolean; fail?: boolean }) => {
      current = next.current ?? current;
      rollout = next.rollout ?? rollout;
      fail = next.fail ?? fail;
    },
  };
}

const signer = {
  sign: (view: { revision: number }) => ({ statement: `r${view.revision}`, signature: 'sig', keyId: 'k' }),
};

describe('shared agent answers', () => {
  it('builds, signs and serialises one answer for many concurrent polls', async () => {
    const fake = fakeService();
    const answers = createAgentAnswers({ service: fake.service, signer });
    const all = await Promise.all(Array.from({ length: 1000 }, () => answers.answer('prod', null, '', 1)));
    expect(fake.calls.views).toBe(1);
    expect(new Set(all.map((a) => a.body)).size).toBe(1);
    expect(JSON.parse(all[0]?.body ?? '')).toMatchObject({ environment: 'prod', revision: 1, statement: 'r1' });
  });

  it('reads the revision once per environment, and per instance only while a rollout runs', async () => {
    const fake = fakeService();
    const answers = createAgentAnswers({ service: fake.service, signer });
    for (let i = 0; i < 100; i++) expect(await answers.revisionFor('prod', `host-${i}`)).toBe(1);
    expect(fake.calls.states).toBe(1);
    expect(fake.calls.perInstance).toBe(0);
    fake.set({ rollout: true });
    answers.invalidate('prod');
    expect(await answers.revisionFor('prod', 'early')).toBe(2);
    expect(await answers.revisionFor('prod', 'late')).toBe(1);
    expect(fake.calls.perInstance).toBe(2);
  });

  it('drops an environment’s answers on a change notice, and everything after the TTL', async () => {
    const fake = fakeService();
    let clock = 0;
    const answers = createAgentAnswers({ service: fake.service, signer, ttlMs: 1000, now: () => clock });
    expect(await answers.revisionFor('prod', 'h')).toBe(1);
    fake.set({ current: 2 });
    expect(await answers.revisionFor('prod', 'h')).toBe(1);
    answers.invalidate('staging');
    expect(await answers.revisionFor('prod', 'h')).toBe(1);
    answers.invalidate('prod');
    expect(await answers.revisionFor('prod', 'h')).toBe(2);
    fake.set({ current: 3 });
    clock += 1001;
    expect(await answers.revisionFor('prod', 'h')).toBe(3);
  });

  it('does not keep a value computed before a change notice that arrived while it ran', async () => {
    const fake = fakeService();
    const answers = createAgentAnswers({ service: fake.service, signer });
    const early = answers.revisionFor('prod', 'h');
    fake.set({ current: 5 });
    answers.invalidate('prod');
    await early;
    expect(await answers.revisionFor('prod', 'h')).toBe(5);
  });

  it('does not remember a failure', async () => {
    const fake = fakeService();
    const answers = createAgentAnswers({ service: fake.service, signer });
    fake.set({ fail: true });
    await expect(answers.answer('prod', null, '', 1)).rejects.toThrow('store down');
    fake.set({ fail: false });
    await expect(answers.answer('prod', null, '', 1)).resolves.toMatchObject({ revision: 1 });
    expect(fake.calls.views).toBe(2);
  });

  it('keeps profiles apart and caches their tags', async () => {
    const fake = fakeService();
    const answers = createAgentAnswers({ service: fake.service, signer });
    expect(await answers.profileTag(null)).toBe('');
    expect(await answers.profileTag('edge')).toBe('-edge-x');
    expect(await answers.profileTag('edge')).toBe('-edge-x');
    expect(fake.calls.tags).toBe(1);
    await answers.answer('prod', 'edge', '-edge-x', 1);
    await answers.answer('prod', null, '', 1);
    expect(fake.calls.views).toBe(2);
  });
});
