// Durations as the server's flags and the CLI's `--since` read them, in one place for both (no schemas
// here, so a host without the server parses them with the protocol package alone).
const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses Go-style durations (`1h`, `90m`, `1h30m`, `500ms`) plus days (`30d`). Returns milliseconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(trimmed); m; m = re.exec(trimmed)) {
    total += Number(m[1]) * (unitMs[m[2] as string] as number);
    matched = re.lastIndex;
  }
  if (trimmed === '' || matched !== trimmed.length) {
    throw new Error(`"${text}" is not a duration (use e.g. 30s, 15m, 1h, 1h30m, 30d)`);
  }
  return total;
}
