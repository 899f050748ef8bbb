import type { UsageRollupsTable } from '../db/tables.ts';

type Delta = UsageRollupsTable;

const tagDimensions = new Map<string, string>();
function tagDimension(key: string): string {
  let name = tagDimensions.get(key);
  if (name === undefined) {
    name = `tag:${key}`;
    tagDimensions.set(key, name);
  }
  return name;
}

/**
 * Sums a batch's check-ins per (app, period, dimension, value). Nested maps keep the per-record
 * work to lookups: this runs for every dimension of every check-in.
 */
export class RollupDeltas {
  readonly #groups = new Map<string, Map<string, Map<string, Delta>>>();

  add(
    record: { app: string; appVersion: string; countryIsoCode: string; tags: Record<string, string> },
    periodStart: number,
    tagKeys: readonly string[],
    isNewInstance: boolean,
  ): void {
    const groupKey = `${record.app}\0${periodStart}`;
    let group = this.#groups.get(groupKey);
    if (!group) {
      group = new Map();
      this.#groups.set(groupKey, group);
    }
    this.#count(group, record.app, periodStart, 'total', '', isNewInstance);
    this.#count(group, record.app, periodStart, 'appVersion', record.appVersion, isNewInstance);
    this.#count(group, record.app, periodStart, 'country', record.countryIsoCode, isNewInstance);
    for (const key of tagKeys) {
      const value = record.tags[key];
      if (value !== undefined) this.#count(group, record.app, periodStart, tagDimension(key), value, isNewInstance);
    }
  }

  rows(): Delta[] {
    const out: Delta[] = [];
    for (const group of this.#groups.values()) for (const byValue of group.values()) out.push(...byValue.values());
    return out;
  }

  #count(
    group: Map<string, Map<string, Delta>>,
    app: string,
    periodStart: number,
    dimension: string,
    value: string,
    isNew: boolean,
  ): void {
    let byValue = group.get(dimension);
    if (!byValue) {
      byValue = new Map();
      group.set(dimension, byValue);
    }
    let d = byValue.get(value);
    if (!d) {
      d = { app, period_start: periodStart, dimension, value, checkins: 0, unique_instances: 0 };
      byValue.set(value, d);
    }
    d.checkins += 1;
    if (isNew) d.unique_instances += 1;
  }
}
