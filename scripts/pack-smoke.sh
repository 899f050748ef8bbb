#!/usr/bin/env bash
# Packs the workspaces and installs the tarballs in an empty directory, as a user would,
# then runs the CLI, the server and the SDK from there; then installs only what an agent host
# needs (protocol, agent, cli) in another, without the server, and runs the agent's commands.
#
#   scripts/pack-smoke.sh
#
# Env: PACK_SMOKE_KEEP=1 keeps the temp dir; PACK_SMOKE_NO_CLEAN=1 skips removing the old
# dist/ and tsconfig.tsbuildinfo before the build (stale outputs are still detected).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PACKAGES=(protocol sdk dashboard server agent cli)
ADMIN_TOKEN=smoke-token

# Node 24 from the `node` devDependency; the system node may be older than the engines range.
NODE_BIN="$ROOT/node_modules/node/bin"
if [[ ! -x $NODE_BIN/node ]]; then
  echo "pack-smoke: $NODE_BIN/node is missing; run npm install at the repo root first" >&2
  exit 1
fi
export PATH="$NODE_BIN:$PATH"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pack-smoke.XXXXXX")
PACK_DIR="$WORK/tarballs"
APP_DIR="$WORK/app"
SERVER_LOG="$WORK/server.log"
SERVER_PGID=""
mkdir -p "$PACK_DIR" "$APP_DIR"

log() { printf 'pack-smoke: %s\n' "$*"; }
# Disk use of a directory in whole MB (1 MB = 1024 KiB), as `du` counts it.
size_mb() { echo $((($(du -sk "$1" | cut -f1) + 512) / 1024)); }
fail() {
  printf 'pack-smoke: FAIL: %s\n' "$*" >&2
  exit 1
}

on_exit() {
  local status=$?
  set +e
  # The server runs in its own process group (npm exec, sh -c, node): stop all of it.
  if [[ -n $SERVER_PGID ]] && kill -0 -- "-$SERVER_PGID" 2>/dev/null; then
    kill -TERM -- "-$SERVER_PGID" 2>/dev/null
    for _ in $(seq 50); do kill -0 -- "-$SERVER_PGID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$SERVER_PGID" 2>/dev/null
  fi
  if [[ $status -ne 0 ]]; then
    if [[ -s $SERVER_LOG ]]; then
      echo "----- server log ($SERVER_LOG) -----" >&2
      cat "$SERVER_LOG" >&2
      echo "----- end of server log -----" >&2
    fi
    echo "pack-smoke: FAILED (exit $status)" >&2
  fi
  if [[ ${PACK_SMOKE_KEEP:-} == 1 ]]; then
    echo "pack-smoke: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

node -e '
  const [maj, min] = process.versions.node.split(".").map(Number);
  if (maj < 22 || (maj === 22 && min < 16)) { console.error(`node ${process.version} is older than 22.16`); process.exit(1); }
' || fail "need Node >= 22.16 from $NODE_BIN"
log "node $(node --version), npm $(npm --version 2>/dev/null) ($(command -v npm))"

# ---------------------------------------------------------------------------------------------
# 1. Build and pack with the release script: one tarball per workspace, and the bundle.
# Old outputs are removed first so that files whose source is gone are not packed.
cd "$ROOT"
if [[ ${PACK_SMOKE_NO_CLEAN:-} != 1 ]]; then
  for p in "${PACKAGES[@]}"; do rm -rf "packages/$p/dist" "packages/$p/tsconfig.tsbuildinfo"; done
fi
log "npm run package"
node scripts/package.mjs --out "$PACK_DIR" >/dev/null || fail "npm run package failed"
VERSION=$(node -p 'require("./packages/cli/package.json").version')

# ---------------------------------------------------------------------------------------------
# 2. Check what is in each tarball.
declare -A TARBALL
for p in "${PACKAGES[@]}"; do
  TARBALL[$p]="$PACK_DIR/flotilla-$p-$VERSION.tgz"
  [[ -f ${TARBALL[$p]} ]] || fail "npm run package did not write ${TARBALL[$p]}"
done
BUNDLE="$PACK_DIR/flotilla-$VERSION.tgz"
[[ -f $BUNDLE ]] || fail "npm run package did not write $BUNDLE"

# The dashboard publishes only its built static files: index.html and hashed assets.
check_dashboard_tarball() {
  local tgz=$1 listing problems="" bad
  listing=$(tar tzf "$tgz")
  grep -qx 'package/dist/index.html' <<<"$listing" || problems+=$'\n  no dist/index.html'
  grep -qE '^package/dist/assets/index-[^/]+\.js$' <<<"$listing" || problems+=$'\n  no dist/assets/index-*.js'
  bad=$(grep -vE '^package/(package\.json|README\.md|LICENSE|dist/.+)$' <<<"$listing" || true)
  bad+=$(grep -E '\.map$|\.test\.' <<<"$listing" || true)
  [[ -z $bad ]] || problems+=$'\n  files that must not be published:\n'"$(sed 's/^/    /' <<<"$bad")"
  [[ -z $problems ]] || fail "$(basename "$tgz"):$problems"
}

check_tarball() {
  local p=$1 tgz=$2 listing problems=""
  if [[ $p == dashboard ]]; then check_dashboard_tarball "$tgz"; return; fi
  listing=$(tar tzf "$tgz")
  # Required: package.json, README, dist JS and declarations.
  grep -qx 'package/package.json' <<<"$listing" || problems+=$'\n  no package.json'
  grep -qx 'package/README.md' <<<"$listing" || problems+=$'\n  no README.md'
  grep -qE '^package/dist/.+\.js$' <<<"$listing" || problems+=$'\n  no dist/**/*.js'
  grep -qE '^package/dist/.+\.d\.ts$' <<<"$listing" || problems+=$'\n  no dist/**/*.d.ts'
  # Forbidden: tests and their helpers, sources, build state, source maps pointing at src/.
  local bad
  bad=$(grep -E '\.test\.|\.test-support\.|\.test\.helper\.|/bench-|^package/src/|^package/test/|tsconfig|\.tsbuildinfo$|\.map$' <<<"$listing" || true)
  [[ -z $bad ]] || problems+=$'\n  files that must not be published:\n'"$(sed 's/^/    /' <<<"$bad")"
  # Every JS file has its declarations and comes from a current source file (no stale outputs).
  local f rel
  while IFS= read -r f; do
    rel=${f#package/dist/}
    rel=${rel%.js}
    grep -qx "package/dist/$rel.d.ts" <<<"$listing" || problems+=$'\n  '"dist/$rel.js has no dist/$rel.d.ts"
    [[ -f $ROOT/packages/$p/src/$rel.ts ]] || problems+=$'\n  '"dist/$rel.js has no source src/$rel.ts (stale build output)"
  done < <(grep -E '^package/dist/.+\.js$' <<<"$listing")
  # Every entry point named in package.json (except the @flotilla/source condition) is packed.
  local targets
  targets=$(tar xzf "$tgz" -O package/package.json | node -e '
    const pkg = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const out = new Set();
    const walk = (v, key) => {
      if (key === "@flotilla/source") return;
      if (typeof v === "string") out.add(v);
      else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, k);
    };
    for (const k of ["main", "types", "bin", "exports"]) walk(pkg[k], k);
    console.log([...out].map((t) => t.replace(/^\.\//, "")).join("\n"));
  ')
  while IFS= read -r f; do
    [[ -z $f ]] && continue
    grep -qx "package/$f" <<<"$listing" || problems+=$'\n  '"package.json points at $f, which is not in the tarball"
  done <<<"$targets"
  [[ -z $problems ]] || fail "$(basename "$tgz"):$problems"
}

for p in "${PACKAGES[@]}"; do check_tarball "$p" "${TARBALL[$p]}"; done
# The bundle is the command's package with the other packages' published files inside it.
bundle_listing=$(tar tzf "$BUNDLE")
for p in server agent protocol dashboard; do
  grep -qx "package/node_modules/@flotilla/$p/package.json" <<<"$bundle_listing" || fail "$BUNDLE lacks @flotilla/$p"
done
bad=$(grep -E '/src/|/test/|\.test\.|\.map$|tsbuildinfo' <<<"$bundle_listing" || true)
[[ -z $bad ]] || fail "$BUNDLE holds files that must not be published:"$'\n'"$bad"
# The plain command leaves the server an optional peer (an agent host goes without it); the bundle
# is the whole control plane, with the server as a bundled dependency.
tar xzf "${TARBALL[cli]}" -O package/package.json | node -e '
  const pkg = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const deps = Object.keys(pkg.dependencies ?? {});
  if (deps.includes("@flotilla/server") || deps.includes("@flotilla/dashboard")) throw new Error(`dependencies: ${deps}`);
  if (pkg.peerDependenciesMeta?.["@flotilla/server"]?.optional !== true) throw new Error("@flotilla/server is not an optional peer");
' || fail "$(basename "${TARBALL[cli]}") must not depend on the server, only name it as an optional peer"
tar xzf "$BUNDLE" -O package/package.json | node -e '
  const pkg = JSON.parse(require("fs").readFileSync(0, "utf8"));
  for (const p of ["@flotilla/server", "@flotilla/dashboard", "@flotilla/agent"]) {
    if (!pkg.bundleDependencies?.includes(p)) throw new Error(`${p} is not bundled`);
  }
  if (!pkg.dependencies?.["@flotilla/server"] || pkg.peerDependencies?.["@flotilla/server"]) throw new Error("the server is not a dependency");
' || fail "$(basename "$BUNDLE") must depend on and bundle the server"
log "tarballs (packed size, files):"
for t in "${TARBALL[@]}" "$BUNDLE"; do
  printf '  %-34s %9s bytes %4s files\n' "$(basename "$t")" "$(stat -c %s "$t")" "$(tar tzf "$t" | wc -l)"
done

# ---------------------------------------------------------------------------------------------
# 3. Install all the tarballs in an empty project, so @flotilla/* resolve to each other.
cd "$APP_DIR"
npm init -y >/dev/null
log "npm install ${PACKAGES[*]/#/@flotilla/} from tarballs into $APP_DIR"
start=$EPOCHREALTIME
npm install --no-audit --no-fund --loglevel=error "${TARBALL[@]}"
INSTALL_SECONDS=$(node -e 'console.log((process.argv[2] - process.argv[1]).toFixed(1))' "$start" "$EPOCHREALTIME")
FULL_MB=$(size_mb node_modules)
log "install took ${INSTALL_SECONDS}s"
log "full install: $FULL_MB MB in node_modules"

# Each @flotilla package must come from its tarball, once, never from a registry.
check_local_flotilla() {
  node -e '
  const lock = JSON.parse(require("fs").readFileSync("package-lock.json", "utf8"));
  const bad = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!/(^|\/)node_modules\/@flotilla\//.test(path)) continue;
    if (!/^node_modules\/@flotilla\/[^/]+$/.test(path)) bad.push(`${path} is a nested copy`);
    else if (!String(entry.resolved ?? "").startsWith("file:")) bad.push(`${path} resolved to ${entry.resolved}`);
  }
  for (const p of process.argv.slice(1)) if (!lock.packages[`node_modules/@flotilla/${p}`]) bad.push(`@flotilla/${p} not installed`);
  if (bad.length) { console.error(bad.join("\n")); process.exit(1); }
' "$@"
}
check_local_flotilla "${PACKAGES[@]}" || fail "@flotilla/* were not all installed from the local tarballs"
npm ls --all >/dev/null 2>"$WORK/npm-ls.err" || { cat "$WORK/npm-ls.err" >&2; fail "npm ls reports problems"; }

# The published JS must not import .ts files (only the @flotilla/source condition points at src/).
if grep -rnE "(from|import\()[[:space:]]*['\"][^'\"]+\.ts['\"]|@flotilla/source" node_modules/@flotilla/*/dist --include='*.js'; then
  fail "published JS imports .ts files or mentions the @flotilla/source condition"
fi

# ---------------------------------------------------------------------------------------------
# 4. The CLI runs from the installed bin.
# `flotilla agent install-service` writes a unit that runs the flotilla installed in the current dir.
check_install_service() {
  local tag=$1
  npx flotilla agent install-service --server http://127.0.0.1:1 --token t --dir "$WORK/$tag" \
    --unit-dir "$WORK/$tag-units" --settings-file "$WORK/$tag.env" --no-enable >"$WORK/$tag-unit.txt" 2>&1 ||
    { cat "$WORK/$tag-unit.txt" >&2; fail "flotilla agent install-service exited non-zero ($tag)"; }
  grep -q "^ExecStart=.*$PWD/node_modules/@flotilla/cli/dist/main.js agent$" "$WORK/$tag-units/flotilla-agent.service" ||
    { cat "$WORK/$tag-units/flotilla-agent.service" >&2; fail "the agent unit does not run the installed flotilla ($tag)"; }
}
[[ -x node_modules/.bin/flotilla ]] || fail "node_modules/.bin/flotilla was not installed"
npx flotilla --help >"$WORK/help.txt" 2>&1 || { cat "$WORK/help.txt" >&2; fail "flotilla --help exited non-zero"; }
grep -q 'server' "$WORK/help.txt" || { cat "$WORK/help.txt" >&2; fail "flotilla --help does not list the server command"; }
npx flotilla server --help >"$WORK/server-help.txt" 2>&1 ||
  { cat "$WORK/server-help.txt" >&2; fail "flotilla server --help exited non-zero"; }
grep -q -- '--port' "$WORK/server-help.txt" || { cat "$WORK/server-help.txt" >&2; fail "flotilla server --help does not mention --port"; }
check_install_service agent
log "flotilla --help, flotilla server --help and flotilla agent install-service: OK"

# On a Node older than 22.16 the installed bin says what it needs, instead of failing on node:sqlite.
OLD_NODE=${PACK_SMOKE_OLD_NODE:-/usr/bin/node}
if [[ -x $OLD_NODE ]] && "$OLD_NODE" -e '
  const [maj, min] = process.versions.node.split(".").map(Number);
  process.exit(maj < 22 || (maj === 22 && min < 16) ? 0 : 1);
'; then
  old_version=$("$OLD_NODE" --version)
  status=0
  "$OLD_NODE" node_modules/.bin/flotilla --help >"$WORK/old-node.txt" 2>&1 || status=$?
  [[ $status -eq 1 && $(cat "$WORK/old-node.txt") == "flotilla needs Node.js 22.16 or newer; this is $old_version" ]] ||
    { cat "$WORK/old-node.txt" >&2; fail "flotilla --help on Node $old_version exited $status without saying what it needs"; }
  log "flotilla --help on Node $old_version: says it needs 22.16 (exit 1)"
else
  log "no Node older than 22.16 at $OLD_NODE: the old-Node check of the bin is skipped"
fi

# ---------------------------------------------------------------------------------------------
# 5. The server starts, answers check-ins and the admin API, and stops cleanly on SIGTERM.
PORT=$(node -e '
  const s = require("net").createServer();
  s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });
')
BASE="http://127.0.0.1:$PORT"
log "starting flotilla server on $BASE"
# Job control puts npx and its children (sh -c, then node) in a process group of their own.
set -m
FLOTILLA_ADMIN_TOKEN=$ADMIN_TOKEN npx flotilla server --host 127.0.0.1 --port "$PORT" --data-dir ./data \
  >"$SERVER_LOG" 2>&1 &
NPX_PID=$!
SERVER_PGID=$NPX_PID
set +m

ready=""
for _ in $(seq 60); do
  kill -0 "$NPX_PID" 2>/dev/null || fail "the server exited before it was ready"
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/readyz" || true)
  # /readyz is 200 only once every listener is up, after the 'listening' line is logged.
  if [[ $code == 200 ]]; then ready=1; break; fi
  sleep 0.5
done
[[ -n $ready ]] || fail "GET /readyz did not answer 200 within 30 s"
# The node process that serves, from its own log line (npx runs it under npm exec and sh -c).
SERVER_PID=""
for _ in $(seq 20); do
  SERVER_PID=$(node -e '
    for (const line of require("fs").readFileSync(process.argv[1], "utf8").split("\n")) {
      try { const j = JSON.parse(line); if (j.msg === "flotilla server listening") { console.log(j.pid); break; } } catch {}
    }' "$SERVER_LOG")
  [[ -n $SERVER_PID ]] && break
  sleep 0.25
done
[[ -n $SERVER_PID ]] || fail "the server log has no 'flotilla server listening' line with a pid"
[[ $(ps -o pgid= -p "$SERVER_PID" | tr -d ' ') == "$SERVER_PGID" ]] || fail "pid $SERVER_PID from the log is not the server started here"
log "GET /readyz: 200 (server pid $SERVER_PID)"

checkin=$(curl -s --max-time 10 -X POST "$BASE/v1/checkupgrade" -d '{"appVersion":"v0.0.1"}')
grep -q '"versions"' <<<"$checkin" || fail "POST /v1/checkupgrade answered: $checkin"
log "POST /v1/checkupgrade: $checkin"

code=$(curl -s -o "$WORK/apps.json" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $ADMIN_TOKEN" "$BASE/api/v1/apps")
[[ $code == 200 ]] || fail "GET /api/v1/apps answered $code: $(cat "$WORK/apps.json")"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/api/v1/apps")
[[ $code == 401 ]] || fail "GET /api/v1/apps without a token answered $code, not 401"
log "GET /api/v1/apps: 200 with the token, 401 without"

# The dashboard comes from the installed @flotilla/dashboard package, with its index.html as fallback.
code=$(curl -s -o "$WORK/index.html" -D "$WORK/index.headers" -w '%{http_code}' --max-time 10 "$BASE/")
[[ $code == 200 ]] || fail "GET / answered $code: $(head -c 300 "$WORK/index.html")"
grep -qi '^content-type: text/html' "$WORK/index.headers" || fail "GET / is not text/html"
grep -q '<div id="root">' "$WORK/index.html" || fail "GET / is not the dashboard's index.html"
asset=$(grep -oE '/assets/index-[^"]+\.js' "$WORK/index.html" | head -n 1)
code=$(curl -s -o /dev/null -D "$WORK/asset.headers" -w '%{http_code}' --max-time 10 "$BASE$asset")
[[ $code == 200 ]] || fail "GET $asset answered $code"
grep -qi '^cache-control: public, max-age=31536000, immutable' "$WORK/asset.headers" ||
  fail "GET $asset is not cached as immutable"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/usage?app=x")
[[ $code == 200 ]] || fail "GET /usage (a client route) answered $code"
log "GET /: the dashboard's index.html; $asset immutable; client routes fall back to index.html"

# The installed agent runs as its shell launcher and one Node process (built JS, in lite mode), and
# reaches the server: it writes its status file once a desired-list poll has been answered.
curl -s -o /dev/null --max-time 10 -H "Authorization: Bearer $ADMIN_TOKEN" -H 'content-type: application/json' \
  -d '{"name":"smoke"}' "$BASE/api/v1/environments"
AGENT_TOKEN=$(curl -s --max-time 10 -H "Authorization: Bearer $ADMIN_TOKEN" -H 'content-type: application/json' \
  -d '{"kind":"agent","name":"smoke-host","environment":"smoke"}' "$BASE/api/v1/tokens" |
  node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).token ?? "")')
[[ -n $AGENT_TOKEN ]] || fail "could not create an agent token"
set -m
node_modules/.bin/flotilla agent --server "$BASE" --token "$AGENT_TOKEN" --dir "$WORK/agent-run" >"$WORK/agent.log" 2>&1 &
AGENT_PGID=$!
set +m
status_file="$WORK/agent-run/services/flotilla-agent/versions/builtin/status.json"
for _ in $(seq 60); do [[ -s $status_file ]] && break; sleep 0.5; done
[[ -s $status_file ]] || { cat "$WORK/agent.log" >&2; kill -KILL -- "-$AGENT_PGID"; fail "the installed agent did not reach the server within 30 s"; }
agent_pid=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).pid)' "$status_file")
tr '\0' ' ' <"/proc/$AGENT_PGID/cmdline" | grep -q 'launcher.sh' || fail "flotilla agent did not become launcher.sh"
[[ $(ps -o ppid= -p "$agent_pid" | tr -d ' ') == "$AGENT_PGID" ]] || fail "the agent is not the launcher's child"
tr '\0' ' ' <"/proc/$agent_pid/cmdline" | grep -q -- '--lite-mode' || fail "the installed agent does not run in lite mode"
agent_rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$agent_pid/status")
kill -TERM "$AGENT_PGID"
for _ in $(seq 100); do kill -0 "$AGENT_PGID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$AGENT_PGID" 2>/dev/null && { kill -KILL -- "-$AGENT_PGID"; fail "the agent did not stop on SIGTERM within 10 s"; }
log "flotilla agent: launcher.sh and one Node process (lite mode, ${agent_rss} MB RSS) reached the server; stopped on SIGTERM"

# ---------------------------------------------------------------------------------------------
# 6. The installed packages load under the default conditions, and the SDK talks to the server.
cat >sdk-smoke.mjs <<'EOF'
import { checkForUpgrade } from '@flotilla/sdk';
import { fileInstanceIdStorage } from '@flotilla/sdk/node';
import { CheckUpgradeResponse } from '@flotilla/protocol';
import { serverOptionTable, startServer } from '@flotilla/server';

if (typeof fileInstanceIdStorage !== 'function' || typeof startServer !== 'function') throw new Error('missing exports');
if (typeof CheckUpgradeResponse !== 'object' || !Array.isArray(serverOptionTable)) throw new Error('missing exports');

const result = await checkForUpgrade({ url: process.argv[2], appVersion: 'v0.0.1' });
console.log(JSON.stringify(result));
if (!Array.isArray(result.versions) || typeof result.upgradeAvailable !== 'boolean') throw new Error('unexpected result');
EOF
node sdk-smoke.mjs "$BASE" >"$WORK/sdk.out" 2>&1 || { cat "$WORK/sdk.out" >&2; fail "the SDK script failed"; }
log "SDK checkForUpgrade: $(cat "$WORK/sdk.out")"

# The published declarations type-check in a consumer (TypeScript from the repo, not installed here).
cat >tsconfig.json <<EOF
{
  "compilerOptions": {
    "target": "es2023", "lib": ["es2023", "dom"], "module": "nodenext", "moduleResolution": "nodenext",
    "strict": true, "noEmit": true, "skipLibCheck": false,
    "typeRoots": ["$ROOT/node_modules/@types"], "types": ["node"]
  },
  "files": ["consumer.ts"]
}
EOF
cat >consumer.ts <<'EOF'
import { CheckUpgradeResponse, type ResponseConfig } from '@flotilla/protocol';
import { checkForUpgrade, type UpgradeCheckResult } from '@flotilla/sdk';
import { fileInstanceIdStorage } from '@flotilla/sdk/node';
import { resolveServerConfig, type RunningServer, startServer } from '@flotilla/server';

const config: ResponseConfig = { versions: [{ name: 'v1.0.0', releaseDate: '2025-01-01T00:00:00Z', tags: ['latest'] }] };
export async function check(url: string): Promise<UpgradeCheckResult> {
  return checkForUpgrade({ url, appVersion: config.versions[0]?.name ?? 'v0.0.0' });
}
export async function start(): Promise<RunningServer> {
  return startServer(resolveServerConfig({ port: '0' }, {}));
}
export const schema = CheckUpgradeResponse;
export const storage = fileInstanceIdStorage;
EOF
"$ROOT/node_modules/.bin/tsc" -p . >"$WORK/tsc.out" 2>&1 || { cat "$WORK/tsc.out" >&2; fail "the published .d.ts files do not type-check"; }
log "published declarations type-check (skipLibCheck off)"

# Stop the server: SIGTERM must make it exit 0 within 10 s. The signal goes to the node process
# itself: npm exec does not forward signals to its child (npm/cli#6684), and a signal to the
# whole group ends the intermediate `sh -c` by signal, so npx would report 143 whatever node did.
# node's exit status comes back through sh -c and npm exec as npx's status.
kill -TERM "$SERVER_PID"
stopped=""
for _ in $(seq 100); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then stopped=1; break; fi
  sleep 0.1
done
[[ -n $stopped ]] || fail "the server did not exit within 10 s of SIGTERM"
for _ in $(seq 50); do kill -0 "$NPX_PID" 2>/dev/null || break; sleep 0.1; done
status=0
wait "$NPX_PID" || status=$?
[[ $status -eq 0 ]] || fail "the server exited with status $status after SIGTERM"
grep -q 'shutting down' "$SERVER_LOG" || fail "the server did not log its shutdown"
SERVER_PGID=""
log "server stopped on SIGTERM with status 0"

# ---------------------------------------------------------------------------------------------
# 7. An agent host installs only what the agent needs: no server, dashboard or database drivers.
AGENT_APP_DIR="$WORK/agent-app"
AGENT_PACKAGES=(protocol agent cli)
mkdir -p "$AGENT_APP_DIR"
cd "$AGENT_APP_DIR"
npm init -y >/dev/null
log "npm install ${AGENT_PACKAGES[*]/#/@flotilla/} from tarballs into $AGENT_APP_DIR (an agent host)"
npm install --no-audit --no-fund --loglevel=error "${TARBALL[protocol]}" "${TARBALL[agent]}" "${TARBALL[cli]}"
check_local_flotilla "${AGENT_PACKAGES[@]}" || fail "the agent host's @flotilla/* were not all installed from the local tarballs"
npm ls --all >/dev/null 2>"$WORK/npm-ls-agent.err" ||
  { cat "$WORK/npm-ls-agent.err" >&2; fail "npm ls reports problems in the agent-only install"; }
for m in @flotilla/server @flotilla/dashboard @flotilla/sdk fastify kysely pg pino; do
  [[ ! -e node_modules/$m ]] || fail "the agent-only install holds node_modules/$m"
done
npx flotilla --help >"$WORK/agent-host-help.txt" 2>&1 ||
  { cat "$WORK/agent-host-help.txt" >&2; fail "flotilla --help exited non-zero on the agent host"; }
npx flotilla agent --help >"$WORK/agent-help.txt" 2>&1 ||
  { cat "$WORK/agent-help.txt" >&2; fail "flotilla agent --help exited non-zero on the agent host"; }
grep -q -- '--server' "$WORK/agent-help.txt" || { cat "$WORK/agent-help.txt" >&2; fail "flotilla agent --help does not mention --server"; }
check_install_service agent-host
status=0
npx flotilla server --port 1 >"$WORK/agent-host-server.txt" 2>&1 || status=$?
expected='flotilla: flotilla server needs the control plane: npm install @flotilla/server (or the flotilla bundle)'
[[ $status -eq 2 && $(cat "$WORK/agent-host-server.txt") == "$expected" ]] ||
  { cat "$WORK/agent-host-server.txt" >&2; fail "flotilla server on the agent host exited $status without saying what to install"; }
log "agent host: flotilla --help, flotilla agent --help and install-service: OK; flotilla server: exit 2, says what to install"
AGENT_MB=$(size_mb node_modules)
log "agent-only install: $AGENT_MB MB in node_modules"
log "full install: $FULL_MB MB"

# ---------------------------------------------------------------------------------------------
cd "$ROOT"
log "OK"
