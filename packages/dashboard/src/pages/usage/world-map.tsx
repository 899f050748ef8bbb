import { geoNaturalEarth1, geoPath } from 'd3-geo';
import countries from 'i18n-iso-countries';
import { useMemo } from 'react';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import atlas from 'world-atlas/countries-110m.json';

const width = 960;
const height = 480;

interface Country {
  id: string;
  name: string;
  d: string;
}

let shapes: Country[] | undefined;

/** The countries' outlines, projected once. */
function countryShapes(): Country[] {
  if (shapes) return shapes;
  const topology = atlas as unknown as Topology<{ countries: GeometryCollection<{ name: string }> }>;
  const collection = feature(topology, topology.objects.countries);
  const projection = geoNaturalEarth1().fitSize([width, height], collection);
  const path = geoPath(projection);
  shapes = collection.features.map((f) => ({
    id: String(f.id ?? ''),
    name: f.properties?.name ?? '',
    d: path(f) ?? '',
  }));
  return shapes;
}

/** Instances per country (ISO 3166-1 alpha-2 → count), shaded on a world map. */
export function WorldMap({ counts, label }: { counts: Map<string, number>; label: string }) {
  const byNumeric = useMemo(() => {
    const out = new Map<string, number>();
    for (const [alpha2, n] of counts) {
      const numeric = alpha2 ? countries.alpha2ToNumeric(alpha2) : undefined;
      if (numeric) out.set(numeric, (out.get(numeric) ?? 0) + n);
    }
    return out;
  }, [counts]);
  const max = Math.max(0, ...byNumeric.values());
  return (
    <figure className="map" aria-label={label}>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
        {countryShapes().map((c) => {
          const n = byNumeric.get(c.id) ?? 0;
          const level = n === 0 || max === 0 ? 0 : Math.min(5, Math.ceil((n / max) * 5));
          return (
            <path key={`${c.id}-${c.name}`} d={c.d} className={`land level-${level}`}>
              <title>{`${c.name}: ${n}`}</title>
            </path>
          );
        })}
      </svg>
      <figcaption className="muted">{label}</figcaption>
    </figure>
  );
}
