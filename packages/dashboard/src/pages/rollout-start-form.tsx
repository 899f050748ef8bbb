import type { Environment, Rollout, RolloutStart } from '@flotilla/protocol';
import { type FormEvent, useState } from 'react';
import { api } from '../api/client.ts';
import { ErrorNote } from '../components/ui.tsx';
import { useAction } from '../components/use-action.ts';
import { parsePairs, parseWaves } from './rollout-plan.ts';

const initial = {
  versions: '',
  waves: '10, 50, 100',
  selector: '',
  success: '95',
  error: '10',
  onError: 'pause' as 'pause' | 'abort',
  approval: false,
  minWave: '0',
  comment: '',
};

export function RolloutStartForm({
  environments,
  env,
  onStarted,
}: {
  environments: Environment[];
  env: string;
  onStarted: (r: Rollout) => void;
}) {
  const [form, setForm] = useState({ ...initial, environment: env });
  const { error, busy, run } = useAction();
  const set = (patch: Partial<typeof form>) => setForm({ ...form, ...patch });

  function submit(e: FormEvent) {
    e.preventDefault();
    run(async () => {
      const versions = parsePairs(form.versions, 'Versions');
      if (Object.keys(versions).length === 0) throw new Error('Versions: name at least one service=version');
      const body: RolloutStart = {
        set: versions,
        waves: parseWaves(form.waves, form.selector),
        successThreshold: Number(form.success) / 100,
        errorThreshold: Number(form.error) / 100,
        onError: form.onError,
        requireApproval: form.approval,
        minWaveSeconds: Number(form.minWave) || 0,
        ...(form.comment ? { comment: form.comment } : {}),
      };
      onStarted(await api.startRollout(form.environment, body));
      setForm({ ...initial, environment: form.environment });
    });
  }

  return (
    <details className="card">
      <summary>Start a rollout</summary>
      <form className="inline-form" onSubmit={submit} aria-label="Start a rollout">
        <label>
          Environment to roll out
          <select value={form.environment} onChange={(e) => set({ environment: e.target.value })}>
            {environments.map((x) => (
              <option key={x.name}>{x.name}</option>
            ))}
          </select>
        </label>
        <label>
          Versions (service=version, space separated)
          <input
            value={form.versions}
            onChange={(e) => set({ versions: e.target.value })}
            placeholder="web=2.0.0 api=1.4.0"
            required
          />
        </label>
        <label>
          Waves (cumulative %)
          <input value={form.waves} onChange={(e) => set({ waves: e.target.value })} placeholder="10, 50, 100" />
        </label>
        <label>
          First wave selector (label=value, optional)
          <input value={form.selector} onChange={(e) => set({ selector: e.target.value })} placeholder="ring=canary" />
        </label>
        <label>
          Success threshold %
          <input
            type="number"
            min={1}
            max={100}
            value={form.success}
            onChange={(e) => set({ success: e.target.value })}
          />
        </label>
        <label>
          Error threshold %
          <input type="number" min={1} max={100} value={form.error} onChange={(e) => set({ error: e.target.value })} />
        </label>
        <label>
          On errors
          <select value={form.onError} onChange={(e) => set({ onError: e.target.value as 'pause' | 'abort' })}>
            <option value="pause">pause</option>
            <option value="abort">abort</option>
          </select>
        </label>
        <label>
          Minimum wave seconds
          <input
            type="number"
            min={0}
            max={2592000}
            value={form.minWave}
            onChange={(e) => set({ minWave: e.target.value })}
          />
        </label>
        <label className="check">
          <input type="checkbox" checked={form.approval} onChange={(e) => set({ approval: e.target.checked })} />
          Wait for approval after each wave
        </label>
        <label>
          Comment
          <input value={form.comment} onChange={(e) => set({ comment: e.target.value })} />
        </label>
        <button type="submit" disabled={busy}>
          Start rollout
        </button>
      </form>
      <ErrorNote error={error} title="The rollout was not started" />
    </details>
  );
}
