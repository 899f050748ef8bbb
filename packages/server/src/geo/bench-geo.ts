/**
 * Prints lookup speed and the memory cost of opening a geolocation database.
 * Run: node packages/server/src/geo/bench-geo.ts [--geodb spec] [count]
 */
import { openGeoLocator } from './geo.ts';
import { isPublicV4 } from './ip-address.ts';

const args = process.argv.slice(2);
const specAt = args.indexOf('--geodb');
const spec = specAt >= 0 ? args.splice(specAt, 2)[1] : undefined;
const count = Number(args[0] ?? 200_000);

function randomPublicIpv4(): string {
  for (;;) {
    const v4 = Math.floor(Math.random() * 0x1_0000_0000);
    if (isPublicV4(v4)) return `${v4 >>> 24}.${(v4 >>> 16) & 0xff}.${(v4 >>> 8) & 0xff}.${v4 & 0xff}`;
  }
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const addresses = Array.from({ length: count }, randomPublicIpv4);
const rssBefore = process.memoryUsage().rss;
const openedAt = performance.now();
const { locator, status } = await openGeoLocator(spec, { warn: console.warn, debug: () => {} });
const openMs = performance.now() - openedAt;
const rssAfter = process.memoryUsage().rss;
console.log(status);
console.log(`open: ${openMs.toFixed(0)} ms, RSS ${mb(rssBefore)} -> ${mb(rssAfter)} (+${mb(rssAfter - rssBefore)})`);
if (!locator) process.exit(1);

let located = 0;
for (let round = 1; round <= 5; round++) {
  located = 0;
  const started = performance.now();
  for (const ip of addresses) if (locator.lookup(ip).countryIsoCode !== '') located++;
  const seconds = (performance.now() - started) / 1000;
  console.log(`round ${round}: ${Math.round(count / seconds).toLocaleString('en')} lookups/s`);
}
console.log(`${located} of ${count} random public IPv4 addresses located`);
locator.close();
