import { describe, expect, it } from 'vitest';
import { prepareResponse, validateResponseConfig } from './response-config.ts';

const versions = [
  { name: 'v1.0.0', releaseDate: '2020-05-30T10:20:00Z', tags: ['stable'] },
  {
    name: 'v1.10.0',
    releaseDate: '2020-08-30T10:20:00Z',
    tags: ['latest'],
    minUpgradableVersion: 'v1.0.0',
    extraInfo: { k: 'v' },
  },
  { name: 'v1.2.0', releaseDate: '2020-06-30T10:20:00Z', tags: ['stable'] },
  { name: 'v1.10.0-rc.1', releaseDate: '2020-07-30T10:20:00Z', tags: ['preview'] },
];

describe('response config', () => {
  it('sorts versions by semver, newest first, and fills the optional fields', () => {
    const list = validateResponseConfig({ versions }, 'r.json');
    expect(list.map((v) => v.name)).toEqual(['v1.10.0', 'v1.10.0-rc.1', 'v1.2.0', 'v1.0.0']);
    expect(list[3]).toEqual({
      name: 'v1.0.0',
      releaseDate: '2020-05-30T10:20:00Z',
      minUpgradableVersion: '',
      tags: ['stable'],
      extraInfo: null,
    });
  });

  it('serialises exactly what upgrade-responder v0.2+ sends (camelCase, no trailing newline)', () => {
    const list = validateResponseConfig(
      { versions: [{ name: 'v1.0.0', releaseDate: '2020-05-30T10:20:00Z', tags: ['latest'] }] },
      'r.json',
    );
    expect(prepareResponse(list, 60, 'camel').body).toBe(
      '{"versions":[{"name":"v1.0.0","releaseDate":"2020-05-30T10:20:00Z","minUpgradableVersion":"","tags":["latest"],"extraInfo":null}],"requestIntervalInMinutes":60}',
    );
  });

  it('serialises PascalCase for v0.1.x clients', () => {
    const list = validateResponseConfig(
      { Versions: [{ Name: 'v1.0.0', ReleaseDate: '2020-05-30T10:20:00Z', Tags: ['latest'] }] },
      'r.json',
    );
    expect(prepareResponse(list, 120, 'pascal').body).toBe(
      '{"versions":[{"Name":"v1.0.0","ReleaseDate":"2020-05-30T10:20:00Z","MinUpgradableVersion":"","Tags":["latest"],"ExtraInfo":null}],"requestIntervalInMinutes":120}',
    );
  });

  it.each([
    [{}, 'r.json: versions: must be a non-empty array'],
    [
      { versions: [{ name: 'one', releaseDate: '2020-05-30T10:20:00Z', tags: ['latest'] }] },
      'r.json: versions[0].name: "one" is not a semantic version',
    ],
    [
      { versions: [{ name: 'v1.0.0', releaseDate: null, tags: ['latest'] }] },
      'r.json: versions[0].releaseDate: null is not an RFC 3339 time',
    ],
    [
      { versions: [{ name: 'v1.0.0', releaseDate: '2020-05-30', tags: ['latest'] }] },
      'versions[0].releaseDate: "2020-05-30" is not an RFC 3339 time',
    ],
    [
      { versions: [{ name: 'v1.0.0', releaseDate: '2020-05-30T10:20:00Z', tags: [] }] },
      'versions[0].tags: must be a non-empty array',
    ],
    [
      { versions: [{ name: 'v1.0.0', releaseDate: '2020-05-30T10:20:00Z', tags: ['stable'] }] },
      'no version carries the "latest" tag',
    ],
    [
      {
        versions: [
          { name: 'v1.0.0', releaseDate: '2020-05-30T10:20:00Z', tags: ['latest'], minUpgradableVersion: 'x' },
        ],
      },
      'versions[0].minUpgradableVersion: "x" is not a semantic version',
    ],
    [
      {
        versions: [
          { name: 'v1.0.0', releaseDate: '2020-05-30T10:20:00Z', tags: ['latest'] },
          { name: 'v1.0.0', releaseDate: '2020-05-30T10:20:00Z', tags: ['x'] },
        ],
      },
      'versions[1].name: "v1.0.0" appears twice',
    ],
  ])('refuses %j naming the field at fault', (data, message) => {
    expect(() => validateResponseConfig(data, 'r.json')).toThrow(message);
  });

  it('accepts the loose version names upgrade-responder accepts', () => {
    const list = validateResponseConfig(
      { versions: [{ name: '1.0', releaseDate: '2020-05-30T10:20:00+02:00', tags: ['latest'] }] },
      'r.json',
    );
    expect(list[0]?.name).toBe('1.0');
  });
});
