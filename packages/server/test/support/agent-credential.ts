import { callApi } from './api.ts';

// One credential per (server, token, instance) in a test run: enrolling the same instance twice is
// refused (409), and tests ask for it wherever they need it.
const known = new Map<string, Promise<string>>();

/**
 * The credential an agent on `instanceId` uses for the agent API, got from an agent token of its
 * environment by enrolling (POST /api/v1/agent/enroll). Tests call agent routes only with what this returns.
 */
export async function agentCredentialFor(base: string, agentToken: string, instanceId: string): Promise<string> {
  const key = JSON.stringify([base, agentToken, instanceId]);
  let credential = known.get(key);
  if (!credential) {
    credential = enrolInstance(base, agentToken, instanceId);
    known.set(key, credential);
    credential.catch(() => known.delete(key));
  }
  return credential;
}

async function enrolInstance(base: string, agentToken: string, instanceId: string): Promise<string> {
  const res = await callApi(base, 'POST', '/api/v1/agent/enroll', { token: agentToken, body: { instanceId } });
  if (res.status !== 201) {
    throw new Error(`enrolling "${instanceId}" answered ${res.status}: ${JSON.stringify(res.body)}`);
  }
  return res.body.credential as string;
}
