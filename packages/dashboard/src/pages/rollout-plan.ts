import type { RolloutWave } from '@flotilla/protocol';

/** `a=1 b=2` (separated by spaces, commas or new lines) into a record; throws on anything else. */
export function parsePairs(text: string, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`${what}: "${part}" is not name=value`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** The waves field (`10, 50, 100`) with an optional first selector wave. */
export function parseWaves(percents: string, selector: string): RolloutWave[] {
  const waves: RolloutWave[] = [];
  const labels = parsePairs(selector, 'First wave selector');
  if (Object.keys(labels).length > 0) waves.push({ selector: labels });
  for (const part of percents.split(/[\s,]+/).filter(Boolean)) {
    const percent = Number(part.replace(/%$/, ''));
    if (!Number.isFinite(percent) || percent <= 0 || percent > 100) {
      throw new Error(`Waves: "${part}" is not a percentage above 0 and at most 100`);
    }
    waves.push({ percent });
  }
  if (waves.length === 0) throw new Error('Waves: give at least one percentage or a selector');
  return waves;
}
