/** Tables of service logs. Times are epoch milliseconds. */
export interface LogLinesTable {
  /** `<13-digit time ms>-<counter>-<random>`: sorts like (time, arrival); cursors carry it. */
  id: string;
  received_at: number;
  time: number;
  /** From the uploading agent's token, never from the body. */
  environment: string;
  instance_id: string;
  service: string;
  version: string | null;
  pid: number | null;
  level: string;
  /** trace 0, debug 1, info 2, warn 3, error 4: "this level and above" is `level_rank >= n`. */
  level_rank: number;
  unit: string;
  stream: string;
  message: string;
}

export type LogTables = {
  log_lines: LogLinesTable;
};
