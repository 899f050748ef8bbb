import type { MeshPhase, MeshView } from '@flotilla/protocol';
import { DataTable } from '../components/data-table.tsx';
import { MeshHeatmap, MeshLegend } from '../components/mesh-heatmap.tsx';
import { MeshPairHistory } from '../components/mesh-history.tsx';
import { MeshNodes, MeshProblems } from '../components/mesh-nodes.tsx';
import { Command, EmptyState, ErrorNote, formatTime, Loading } from '../components/ui.tsx';
import { useApi } from '../components/use-api.ts';
import { useSearchPatch } from '../components/use-search-patch.ts';
import { useVisibleInterval } from '../components/use-visible-interval.ts';
import {
  defaultPairLimit,
  enableCommand,
  formatLoss,
  formatRtt,
  type MeshColour,
  matrixOf,
  meshApi,
  meshPhaseChoices,
  meshWindows,
} from './mesh-api.ts';

/** Pairs the list under the heatmap shows: its text equivalent for the slowest ones. */
const slowestShown = 20;

export function MeshPage() {
  const [params, go] = useSearchPatch();
  const envs = useApi(() => meshApi.environments(), []);
  const all = envs.data?.environments ?? [];
  const on = all.filter((e) => e.enabled).map((e) => e.environment);
  const env = params.get('env') ?? on[0] ?? '';
  const phase = (meshPhaseChoices.find((c) => c.value === params.get('phase'))?.value ?? 'request') as MeshPhase;
  const window = meshWindows.find((w) => w === params.get('window')) ?? '15m';
  const colour: MeshColour = params.get('colour') === 'loss' ? 'loss' : 'p50';
  const asked = Number(params.get('limit'));
  const limit = Number.isInteger(asked) && asked >= 1 && asked <= 10_000 ? asked : defaultPairLimit;
  const from = params.get('from');
  const to = params.get('to');

  const view = useApi(
    () => (env ? meshApi.view({ environment: env, window, phase, limit }) : Promise.resolve(undefined)),
    [env, window, phase, limit],
  );
  useVisibleInterval(view.reload, 30_000, Boolean(env));

  return (
    <>
      <h2>Mesh</h2>
      <p className="muted">
        Round trips and loss between the agents of an environment, as each agent measured its peers: rows measure,
        columns are measured.
      </p>
      <ErrorNote error={envs.error} title="Mesh environments could not be loaded" />
      {envs.loading && !envs.data ? <Loading what="environments" /> : null}
      {envs.data && on.length === 0 ? (
        <EmptyState title="The mesh is off everywhere">
          <p>
            {all.length === 0
              ? 'There is no environment yet. Create one, then switch the mesh on for it.'
              : 'No environment runs the mesh yet.'}{' '}
            An admin switches it on per environment; its agents then measure each other and report here:
          </p>
          <Command>{enableCommand(all[0]?.environment ?? 'production')}</Command>
        </EmptyState>
      ) : null}
      {on.length > 0 ? (
        <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Mesh view">
          <label>
            Environment
            <select value={env} onChange={(e) => go({ env: e.target.value, from: null, to: null })}>
              {(on.includes(env) ? on : [...on, env]).map((name) => (
                <option key={name}>{name}</option>
              ))}
            </select>
          </label>
          <label>
            Phase
            <select value={phase} onChange={(e) => go({ phase: e.target.value })}>
              {meshPhaseChoices.map((c) => (
                <option key={c.value} value={c.value}>
                  {c.label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Window
            <select value={window} onChange={(e) => go({ window: e.target.value })}>
              {meshWindows.map((w) => (
                <option key={w}>{w}</option>
              ))}
            </select>
          </label>
          <fieldset className="mesh-colour">
            <legend>Colour by</legend>
            {(['p50', 'loss'] as const).map((c) => (
              <label key={c}>
                <input
                  type="radio"
                  name="colour"
                  value={c}
                  checked={colour === c}
                  onChange={() => go({ colour: c === 'p50' ? null : c })}
                />
                {c === 'p50' ? 'p50 round trip' : 'loss'}
              </label>
            ))}
          </fieldset>
        </form>
      ) : null}
      {on.length > 0 && all.length > on.length ? (
        <p className="muted">
          The mesh is off in {all.length - on.length} other environment{all.length - on.length === 1 ? '' : 's'} (
          {all
            .filter((e) => !e.enabled)
            .map((e) => e.environment)
            .join(', ')}
          ).
        </p>
      ) : null}
      <ErrorNote error={view.error} title="The mesh could not be loaded" />
      {env && view.loading && !view.data ? <Loading what="the mesh" /> : null}
      {view.data ? (
        <MeshBody
          view={view.data}
          colour={colour}
          limit={limit}
          selected={from && to ? { from, to } : null}
          onSelect={(p) => go({ from: p.from, to: p.to })}
          onClose={() => go({ from: null, to: null })}
          window={window}
        />
      ) : null}
    </>
  );
}

function MeshBody({
  view,
  colour,
  limit,
  selected,
  onSelect,
  onClose,
  window,
}: {
  view: MeshView;
  colour: MeshColour;
  limit: number;
  selected: { from: string; to: string } | null;
  onSelect: (p: { from: string; to: string }) => void;
  onClose: () => void;
  window: string;
}) {
  if (!view.enabled) {
    return (
      <EmptyState title={`The mesh is off in ${view.environment}`}>
        <p>An admin switches it on; the environment's agents then measure each other and report here:</p>
        <Command>{enableCommand(view.environment)}</Command>
      </EmptyState>
    );
  }
  if (view.nodes.length === 0) {
    return (
      <EmptyState title="No mesh node has reported yet">
        <p>
          Each <code>flotilla agent</code> of {view.environment} joins the mesh by itself within a minute or two of the
          mesh being switched on.
        </p>
      </EmptyState>
    );
  }
  const matrix = matrixOf(view);
  return (
    <>
      <MeshStats view={view} />
      <MeshProblems view={view} />
      <section aria-labelledby="mesh-matrix">
        <h3 id="mesh-matrix">
          Pair matrix{' '}
          <span className="muted">
            ({view.phase}, {formatTime(view.from)} to {formatTime(view.to)})
          </span>
        </h3>
        {view.pairsTruncated ? (
          <p className="warning" role="note">
            The matrix was cut to the {view.pairs.length} slowest pairs (the page asked for at most {limit}; add{' '}
            <code>limit=</code> to the address for up to 10,000): the cells of other pairs show as without measurements.
          </p>
        ) : null}
        {matrix.cut > 0 ? (
          <p className="warning" role="note">
            The heatmap shows {matrix.nodes.length} of {matrix.nodes.length + matrix.cut} nodes: those of the slowest
            pairs first.
          </p>
        ) : null}
        <MeshLegend colour={colour} />
        <MeshHeatmap
          matrix={matrix}
          colour={colour}
          label={`Pair matrix, ${colour === 'p50' ? 'p50 round trip in ms' : 'loss'}: rows measure, columns are measured`}
          selected={selected}
          onSelect={onSelect}
        />
        <p className="muted mesh-hint">Select a cell (arrow keys move, Enter opens) for the pair's history.</p>
      </section>
      {selected ? (
        <MeshPairHistory
          key={`${selected.from}\u0000${selected.to}`}
          environment={view.environment}
          from={selected.from}
          to={selected.to}
          phase={view.phase}
          window={window}
          onClose={onClose}
        />
      ) : null}
      <MeshNodes view={view} />
      <section aria-labelledby="mesh-slowest">
        <h3 id="mesh-slowest">Slowest pairs</h3>
        {view.pairs.length === 0 ? (
          <p className="muted">No pair was measured in this window.</p>
        ) : (
          <DataTable
            label="Slowest pairs"
            columns={[
              'Pair',
              { label: 'p50', className: 'num' },
              { label: 'p99', className: 'num' },
              { label: 'Loss', className: 'num' },
              { label: 'Probes', className: 'num' },
            ]}
          >
            {view.pairs.slice(0, slowestShown).map((p) => (
              <tr key={`${p.from}\u0000${p.to}`}>
                <th scope="row">
                  <button type="button" className="mesh-link" onClick={() => onSelect({ from: p.from, to: p.to })}>
                    {p.from} → {p.to}
                  </button>
                </th>
                <td className="num">{p.p50 === null ? 'every probe failed' : formatRtt(p.p50)}</td>
                <td className="num">{formatRtt(p.p99)}</td>
                <td className={p.loss > 0 ? 'num bad' : 'num'}>{formatLoss(p.loss)}</td>
                <td className="num">{p.count}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </section>
    </>
  );
}

function MeshStats({ view }: { view: MeshView }) {
  const count = (state: string) => view.nodes.filter((n) => n.state === state).length;
  return (
    <dl className="stats" aria-label="Mesh summary">
      <div>
        <dt>Alive</dt>
        <dd>{count('alive')}</dd>
      </div>
      <div>
        <dt>Stale</dt>
        <dd>{count('stale')}</dd>
      </div>
      <div>
        <dt>Dead</dt>
        <dd>{count('dead')}</dd>
      </div>
      <div>
        <dt>Flagged</dt>
        <dd className={view.flagged.length > 0 ? 'bad' : undefined}>{view.flagged.length}</dd>
      </div>
      <div>
        <dt>Partitions</dt>
        <dd className={view.partitions.length > 1 ? 'bad' : undefined}>{view.partitions.length}</dd>
      </div>
    </dl>
  );
}
