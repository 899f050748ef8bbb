import { Area, AreaChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { formatTime } from '../../components/ui.tsx';

// Each at least 4.5:1 against the card's white, as the legend writes the keys in these colours.
export const palette = [
  '#2563eb',
  '#15803d',
  '#b45309',
  '#dc2626',
  '#7c3aed',
  '#0e7490',
  '#be185d',
  '#4d7c0f',
  '#c2410c',
  '#475569',
];

// `03-01 13:00`, in the zone picked in the header like every other time.
const tick = (iso: string) => `${formatTime(iso).slice(5, 13)}:00`;

/** Instances over time, one stacked area per key (app version or tag value). */
export function StackedChart({
  rows,
  keys,
  label,
}: {
  rows: Record<string, number | string>[];
  keys: string[];
  label: string;
}) {
  return (
    <figure className="chart" aria-label={label}>
      <ResponsiveContainer width="100%" height={280}>
        <AreaChart data={rows} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis dataKey="time" tickFormatter={tick} minTickGap={40} fontSize={12} />
          <YAxis allowDecimals={false} fontSize={12} width={44} />
          <Tooltip labelFormatter={(v) => formatTime(String(v), { zone: true })} />
          <Legend />
          {keys.map((key, i) => (
            <Area
              key={key}
              type="linear"
              dataKey={key}
              name={key || '(none)'}
              stackId="1"
              stroke={palette[i % palette.length]}
              fill={palette[i % palette.length]}
              fillOpacity={0.55}
              isAnimationActive={false}
            />
          ))}
        </AreaChart>
      </ResponsiveContainer>
      <figcaption className="muted">{label}</figcaption>
    </figure>
  );
}
