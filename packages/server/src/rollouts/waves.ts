import { createHash } from 'node:crypto';
import { Invalid } from '../errors.ts';

/** A wave admits a cumulative share of the instances, or those whose labels match every pair. */
export type WaveSpec = { percent: number } | { selector: Record<string, string> };

export interface WaveInstance {
  instanceId: string;
  labels: Record<string, string>;
}

export const maxWaves = 20;

/**
 * Checks a wave plan and returns it with an implicit final 100 % wave when the last is not one.
 * Percentages must be strictly increasing, in (0, 100], and a 100 % wave must be the last.
 */
export function normalizeWaves(waves: WaveSpec[]): WaveSpec[] {
  if (waves.length === 0) throw new Invalid('give at least one wave');
  let last = 0;
  waves.forEach((wave, i) => {
    if ('percent' in wave) {
      const p = wave.percent;
      if (!Number.isFinite(p) || p <= 0 || p > 100) throw new Invalid(`wave ${i + 1}: percent must be in (0, 100]`);
      if (p <= last) throw new Invalid(`wave ${i + 1}: percentages must be strictly increasing (${p} after ${last})`);
      if (last === 100) throw new Invalid(`wave ${i + 1}: a 100 % wave must be the last`);
      last = p;
    } else {
      if (last === 100) throw new Invalid(`wave ${i + 1}: a 100 % wave must be the last`);
      if (Object.keys(wave.selector).length === 0) throw new Invalid(`wave ${i + 1}: a selector needs a label`);
    }
  });
  const final = waves[waves.length - 1] as WaveSpec;
  const out = waves.map((w) => ('percent' in w ? { percent: w.percent } : { selector: { ...w.selector } }));
  if (!('percent' in final) || final.percent !== 100) out.push({ percent: 100 });
  if (out.length > maxWaves) throw new Invalid(`a rollout has at most ${maxWaves} waves`);
  return out;
}

/** Where an instance falls in [0, 100) for this rollout: sha-256 of seed and id, so each rollout reshuffles. */
export function bucketOf(seed: string, instanceId: string): number {
  const digest = createHash('sha256').update(`${seed}\n${instanceId}`).digest();
  // 48 bits are exact in a double and ample for percentages.
  return (digest.readUIntBE(0, 6) / 2 ** 48) * 100;
}

/** Instances taken into a wave earlier than their own (instance id → wave index), kept with the rollout. */
export type Admitted = Readonly<Record<string, number>>;

/**
 * The index of the first wave that admits the instance (the final 100 % wave admits everyone), or
 * the earlier wave it was taken into: an instance only ever moves to an earlier wave.
 */
export function assignWave(waves: WaveSpec[], seed: string, instance: WaveInstance, admitted?: Admitted): number {
  const taken = admitted && Object.hasOwn(admitted, instance.instanceId) ? admitted[instance.instanceId] : undefined;
  const own = ownWave(waves, seed, instance);
  return taken === undefined ? own : Math.min(taken, own);
}

function ownWave(waves: WaveSpec[], seed: string, instance: WaveInstance): number {
  const bucket = bucketOf(seed, instance.instanceId);
  for (let i = 0; i < waves.length; i++) {
    const wave = waves[i] as WaveSpec;
    if ('percent' in wave) {
      if (bucket < wave.percent) return i;
    } else if (Object.entries(wave.selector).every(([k, v]) => instance.labels[k] === v)) {
      return i;
    }
  }
  return waves.length - 1;
}

/** Groups instances by wave index. */
export function assignWaves(
  waves: WaveSpec[],
  seed: string,
  instances: WaveInstance[],
  admitted?: Admitted,
): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (let i = 0; i < waves.length; i++) out.set(i, []);
  for (const inst of instances) out.get(assignWave(waves, seed, inst, admitted))?.push(inst.instanceId);
  return out;
}

/**
 * A percentage wave above 0 % takes at least one instance when there are any: when none of `live`
 * falls in `wave` but some lie in later waves, this names the one to take (the lowest bucket, the
 * nearest to falling in it). With one instance and waves 10, 50, 100 the first wave takes it.
 */
export function instanceToAdmit(
  waves: WaveSpec[],
  seed: string,
  admitted: Admitted,
  wave: number,
  live: WaveInstance[],
): string | undefined {
  const spec = waves[wave];
  if (!spec || !('percent' in spec)) return undefined;
  let best: string | undefined;
  let bestBucket = Number.POSITIVE_INFINITY;
  for (const inst of live) {
    const at = assignWave(waves, seed, inst, admitted);
    if (at === wave) return undefined;
    if (at < wave) continue;
    const bucket = bucketOf(seed, inst.instanceId);
    if (bucket < bestBucket || (bucket === bestBucket && best !== undefined && inst.instanceId < best)) {
      best = inst.instanceId;
      bestBucket = bucket;
    }
  }
  return best;
}
