import { setZoneChoice, useZoneChoice, zoneName } from './local-time.ts';

/** The header's "Times in" control: the viewer's zone (named) or UTC, remembered in this browser. */
export function ZonePicker() {
  const zone = useZoneChoice();
  return (
    <label className="zone-picker">
      Times in{' '}
      <select value={zone} onChange={(e) => setZoneChoice(e.target.value === 'utc' ? 'utc' : 'local')}>
        <option value="local">{zoneName('local')}</option>
        <option value="utc">UTC</option>
      </select>
    </label>
  );
}
