/** Whether an environment's agents run the mesh. Times are epoch ms. */
export interface MeshEnvironmentsTable {
  environment: string;
  /** 1 or 0. */
  enabled: number;
  /** Peers a node probes per round; null: the agents' default (5). */
  max_peers_per_round: number | null;
  updated_at: number;
  updated_by: string;
}

/** One mesh node (an enrolled instance) as it last announced itself and reported. */
export interface MeshNodesTable {
  instance_id: string;
  environment: string;
  /** host:port its peers dial. */
  address: string;
  certificate_expires_at: number | null;
  /** Last certificate request, peer list or report: the node's liveness as the server sees it. */
  seen_at: number;
  reported_at: number | null;
  /** Event-loop delay of the last report, seconds. */
  lag_p50: number | null;
  lag_p99: number | null;
  lag_max: number | null;
}

/** What `from_node` measured of `to_node` in one phase during one minute; RTTs in seconds. */
export interface MeshSummariesTable {
  environment: string;
  from_node: string;
  to_node: string;
  phase: string;
  minute: number;
  count: number;
  failed: number;
  min: number | null;
  p50: number | null;
  p99: number | null;
  max: number | null;
  jitter: number | null;
}

/** Tables of the network mesh. */
export type MeshTables = {
  mesh_environments: MeshEnvironmentsTable;
  mesh_nodes: MeshNodesTable;
  mesh_summaries: MeshSummariesTable;
};
