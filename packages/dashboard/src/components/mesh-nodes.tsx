import type { MeshNode, MeshView } from '@flotilla/protocol';
import { formatRtt } from '../pages/mesh-api.ts';
import { DataTable } from './data-table.tsx';
import { formatTime } from './ui.tsx';

/** Names a partition lists before "and N more". */
const namesShown = 24;
/** Nodes the table lists at most, those with a problem first. */
const nodesShown = 200;
/** Event-loop delay (p99) above which a node's own timing is suspect. */
const lagWarnSeconds = 0.02;

const listNames = (names: readonly string[]) =>
  names.length <= namesShown
    ? names.join(', ')
    : `${names.slice(0, namesShown).join(', ')} and ${names.length - namesShown} more`;

/** The mesh split into groups that cannot reach each other, and nodes most peers cannot reach. */
export function MeshProblems({ view }: { view: MeshView }) {
  const flagged = view.nodes.filter((n) => n.flagged);
  if (view.partitions.length < 2 && flagged.length === 0) return null;
  return (
    <div className="mesh-problems">
      {view.partitions.length > 1 ? (
        <section className="warning" aria-labelledby="mesh-partitions">
          <h3 id="mesh-partitions">The mesh is split into {view.partitions.length} partitions</h3>
          <p>No probe succeeded between these groups in the last minutes; each group reaches its own nodes.</p>
          <ol className="mesh-partitions">
            {view.partitions.map((group, i) => (
              <li key={group[0] ?? i} data-partition={i + 1}>
                <strong>
                  Partition {i + 1} ({group.length} node{group.length === 1 ? '' : 's'}):
                </strong>{' '}
                {listNames(group)}
              </li>
            ))}
          </ol>
        </section>
      ) : null}
      {flagged.length > 0 ? (
        <section className="warning" aria-labelledby="mesh-flagged">
          <h3 id="mesh-flagged">
            {flagged.length === 1 ? '1 node looks unreachable' : `${flagged.length} nodes look unreachable`}
          </h3>
          <ul>
            {flagged.map((n) => (
              <li key={n.instance} data-flagged={n.instance}>
                <strong>{n.instance}</strong>: {n.flagged}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </div>
  );
}

function StateBadge({ node }: { node: MeshNode }) {
  return (
    <>
      <span className={`badge mesh-state-${node.state}`}>{node.state}</span>
      {node.flagged ? <span className="badge mesh-state-flagged">flagged</span> : null}
    </>
  );
}

function LagText({ node }: { node: MeshNode }) {
  const lag = node.eventLoopLag;
  if (!lag) return <span className="muted">not reported</span>;
  const text = `p50 ${formatRtt(lag.p50)}, p99 ${formatRtt(lag.p99)}, max ${formatRtt(lag.max)}`;
  return lag.p99 > lagWarnSeconds ? (
    <span className="bad" title="A busy event loop delays the node's work; its probes run on their own thread">
      {text}
    </span>
  ) : (
    text
  );
}

/** Every node with its state, partition, event-loop lag and why it is flagged. */
export function MeshNodes({ view }: { view: MeshView }) {
  const several = view.partitions.length > 1;
  const rank = (n: MeshNode) => (n.flagged ? 0 : { dead: 1, stale: 2, alive: 3 }[n.state]);
  const nodes = [...view.nodes].sort((a, b) => rank(a) - rank(b) || a.instance.localeCompare(b.instance));
  return (
    <section aria-labelledby="mesh-nodes">
      <h3 id="mesh-nodes">Nodes</h3>
      {nodes.length > nodesShown ? (
        <p className="muted">
          Listing {nodesShown} of {nodes.length} nodes: flagged, dead and stale ones first.
        </p>
      ) : null}
      <DataTable
        label="Mesh nodes"
        columns={['Node', 'State', ...(several ? ['Partition'] : []), 'Event-loop lag', 'Last seen', 'Flag']}
      >
        {nodes.slice(0, nodesShown).map((n) => (
          <tr key={n.instance} data-node={n.instance} data-state={n.state} className={n.flagged ? 'alert' : undefined}>
            <th scope="row">
              {n.instance}
              <span className="muted mono mesh-address"> {n.address}</span>
            </th>
            <td>
              <StateBadge node={n} />
            </td>
            {several ? <td>{n.partition >= 0 ? `partition ${n.partition + 1}` : '—'}</td> : null}
            <td>
              <LagText node={n} />
            </td>
            <td>{formatTime(n.lastSeenAt)}</td>
            <td>{n.flagged ?? ''}</td>
          </tr>
        ))}
      </DataTable>
    </section>
  );
}
