import { Area, AreaChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

export const palette = [
  '#2563eb',
  '#16a34a',
  '#f59e0b',
  '#dc2626',
  '#7c3aed',
  '#0891b2',
  '#db2777',
  '#65a30d',
  '#ea580c',
  '#475569',
];

const tick = (iso: string) => {
  const d = new Date(iso);
  return `${d.getMonth() + 1}/${d.getDate()} ${String(d.getHours()).padStart(2, '0')}:00`;
};

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
          <Tooltip labelFormatter={(v) => new Date(String(v)).toLocaleString()} />
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
