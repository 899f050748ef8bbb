// Same rules as upgrade-responder's utils.ToSnakeCase, so keys match its existing dashboards.
const FIRST_CAP = /([A-Z])([A-Z][a-z])/g;
const ALL_CAP = /([a-z0-9])([A-Z])/g;
const ASCII = /^[ -~]*$/;

const cache = new Map<string, string>();
const CACHE_LIMIT = 2048;

/** `kubernetesVersion` → `kubernetes_version`, `HTTPServer` → `http_server`, `cni-plugin` → `cni_plugin`. */
export function toSnakeCase(input: string): string {
  const hit = cache.get(input);
  if (hit !== undefined) return hit;
  const out = goLower(input.replace(FIRST_CAP, '$1_$2').replace(ALL_CAP, '$1_$2').replaceAll('-', '_'));
  // Keys come from app schemas, so the set is small; the limit only guards against misuse.
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(input, out);
  return out;
}

// Go's strings.ToLower maps one code point at a time (no final-sigma rule, 'İ' → 'i'),
// while String.prototype.toLowerCase applies context and multi-character mappings.
function goLower(s: string): string {
  if (ASCII.test(s)) return s.toLowerCase();
  let out = '';
  for (const ch of s) {
    const lower = ch.toLowerCase();
    out += String.fromCodePoint(lower.codePointAt(0) ?? 0);
  }
  return out;
}
