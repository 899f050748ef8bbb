import { describe, expect, it } from 'vitest';
import type { CheckinRecord } from '../checkin/record.ts';
import {
  escapeFieldKey,
  escapeMeasurement,
  escapeTag,
  formatFloat,
  nanoseconds,
  quoteStringField,
  recordToLine,
} from './line-protocol.ts';

function record(overrides: Partial<CheckinRecord> = {}): CheckinRecord {
  return {
    time: 1795440594973,
    app: 'longhorn',
    appVersion: 'v1.0.0',
    countryIsoCode: 'US',
    country: 'United States',
    city: '',
    tags: {},
    fields: {},
    ...overrides,
  };
}

describe('escaping', () => {
  // InfluxDB 1.x unescapes only `\,`, `\=` and `\ ` in names, so backslashes stay as they are.
  it.each([
    ['plain', 'plain'],
    ['United States', 'United\\ States'],
    ['a,b', 'a\\,b'],
    ['k=v', 'k\\=v'],
    ['a, b=c', 'a\\,\\ b\\=c'],
    ['C:\\dir', 'C:\\dir'],
    ['a\\,b', 'a\\\\,b'],
    ['trailing\\', 'trailing'],
    ['two\nlines\r\n', 'two\\ lines\\ \\ '],
    ['say "hi"', 'say\\ "hi"'],
    ['tab\there', 'tab\there'],
    ['ünïcödé', 'ünïcödé'],
  ])('tag %j → %j', (input, expected) => {
    expect(escapeTag(input)).toBe(expected);
  });

  it.each([
    ['plain', 'plain'],
    ['a b', 'a\\ b'],
    ['a,b=c', 'a\\,b\\=c'],
    ['say"x"', 'say\\"x\\"'],
    ['end\\', 'end'],
  ])('field key %j → %j', (input, expected) => {
    expect(escapeFieldKey(input)).toBe(expected);
  });

  it.each([
    ['upgrade_request', 'upgrade_request'],
    ['a b,c=d', 'a\\ b\\,c=d'],
  ])('measurement %j → %j', (input, expected) => {
    expect(escapeMeasurement(input)).toBe(expected);
  });

  it.each([
    ['plain', '"plain"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['C:\\dir\\', '"C:\\\\dir\\\\"'],
    ['a,b=c d', '"a,b=c d"'],
    ['two\nlines', '"two\nlines"'],
  ])('string field %j → %s', (input, expected) => {
    expect(quoteStringField(input)).toBe(expected);
  });
});

describe('formatFloat', () => {
  it.each([
    [3, '3'],
    [0, '0'],
    [-0, '-0'],
    [1.5, '1.5'],
    [-2.25, '-2.25'],
    [0.1, '0.1'],
    [1e21, '1000000000000000000000'],
    [1.5e22, '15000000000000000000000'],
    [1e-7, '0.0000001'],
    [-1.25e-8, '-0.0000000125'],
    [123456789012345680000, '123456789012345680000'],
    [Number.MAX_SAFE_INTEGER, '9007199254740991'],
  ])('%d → %s', (input, expected) => {
    expect(formatFloat(input)).toBe(expected);
  });
});

describe('nanoseconds', () => {
  it('multiplies without losing precision', () => {
    expect(nanoseconds(1795440594973)).toBe('1795440594973000000');
    expect(nanoseconds(1795440594973, 545969)).toBe('1795440594973545969');
    expect(nanoseconds(0)).toBe('0');
  });
});

describe('recordToLine', () => {
  it('writes the same line as upgrade-responder', () => {
    const line = recordToLine(
      record({ tags: { kubernetesVersion: 'v1.28.1' }, fields: { nodeCount: 3, enabled: true } }),
      545969,
    );
    expect(line).toBe(
      'upgrade_request,app_version=v1.0.0,country=United\\ States,country_isocode=US,kubernetes_version=v1.28.1 ' +
        'enabled=true,node_count=3,value=1i 1795440594973545969',
    );
  });

  it('omits empty tag values, including an unknown location', () => {
    const line = recordToLine(record({ country: '', countryIsoCode: '', tags: { cniPlugin: '' } }));
    expect(line).toBe('upgrade_request,app_version=v1.0.0 value=1i 1795440594973000000');
  });

  it('sorts tags and snake-cases extra keys, with dashes', () => {
    const line = recordToLine(record({ city: 'Zürich', tags: { 'cni-plugin': 'flannel', OSDistro: 'debian' } }));
    expect(line).toBe(
      'upgrade_request,app_version=v1.0.0,city=Zürich,cni_plugin=flannel,country=United\\ States,' +
        'country_isocode=US,os_distro=debian value=1i 1795440594973000000',
    );
  });

  it('lets the location win over extra tags of the same name, and extra tags over app_version', () => {
    const line = recordToLine(record({ tags: { country: 'Mars', countryIsocode: 'MA', appVersion: 'x' } }));
    expect(line).toContain(',app_version=x,country=United\\ States,country_isocode=US ');
  });

  it('types fields: strings quoted, booleans bare, numbers as floats', () => {
    const line = recordToLine(
      record({ fields: { hostKernel: 'say "hi"\\', replicaCount: 2.5, isHA: false, diskGiB: 100 } }),
    );
    expect(line).toContain(' disk_gi_b=100,host_kernel="say \\"hi\\"\\\\",is_ha=false,replica_count=2.5,value=1i ');
  });

  it('keeps the counting field over a client field called value', () => {
    const line = recordToLine(record({ fields: { value: 42, Value: 'x' } }));
    expect(line).toMatch(/ value=1i \d+$/);
    expect(line.match(/value=/g)).toHaveLength(1);
  });

  it('skips keys InfluxDB refuses and numbers it cannot store', () => {
    const line = recordToLine(record({ tags: { time: 'x' }, fields: { time: 1, big: Infinity, nan: Number.NaN } }));
    expect(line).toBe(
      'upgrade_request,app_version=v1.0.0,country=United\\ States,country_isocode=US value=1i 1795440594973000000',
    );
  });

  it('escapes awkward tag and field keys', () => {
    const line = recordToLine(record({ tags: { 'a b': 'x,y' }, fields: { 'f=1': 'v' } }));
    expect(line).toContain(',a\\ b=x\\,y,');
    expect(line).toContain(' f\\=1="v",value=1i ');
  });
});
