/** Tables of staged rollouts. Times are ISO-8601 UTC text. */
export interface RolloutsTable {
  id: string;
  environment: string;
  /** running, waiting_approval, paused, completed or aborted. */
  state: string;
  base_revision: number;
  target_revision: number;
  seed: string;
  /** JSON array of waves, with the implicit final 100 % wave included. */
  waves: string;
  current_wave: number;
  /** JSON `{ instanceId: waveIndex }`: instances taken into a wave earlier than their own. */
  admitted: string;
  /** JSON `{ successThreshold, errorThreshold, onError, requireApproval, minWaveSeconds }`. */
  policy: string;
  comment: string | null;
  created_by: string;
  created_at: string;
  wave_started_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface RolloutEventsTable {
  id: string;
  rollout_id: string;
  at: string;
  from_state: string | null;
  to_state: string;
  wave: number;
  actor: string;
  reason: string | null;
}

export type RolloutTables = {
  rollouts: RolloutsTable;
  rollout_events: RolloutEventsTable;
};
