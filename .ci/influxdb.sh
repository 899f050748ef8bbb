#!/usr/bin/env bash
# Starts a throwaway InfluxDB 1.x on 127.0.0.1:8086 for the integration tests.
# Idempotent: does nothing (but print the URL) when something already answers /ping.
set -euo pipefail

HOST=127.0.0.1
PORT=8086
URL="http://${HOST}:${PORT}"

# Plain bash (no curl needed): true when GET /ping answers 204.
ping_ok() {
  timeout 2 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "GET /ping HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" >&3
    read -r _ code _ <&3
    [[ "$code" == "204" ]]
  ' _ "${HOST}" "${PORT}" 2>/dev/null
}

if ping_ok; then
  echo "FLOTILLA_TEST_INFLUXDB_URL=${URL}"
  exit 0
fi

if ! command -v influxd >/dev/null 2>&1; then
  echo "influxd not found, installing the influxdb package" >&2
  if [[ "$(id -u)" == "0" ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y influxdb >&2
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y influxdb >&2
  fi
fi

# Something else on the port would make influxd fail with a confusing error.
if (exec 3<>"/dev/tcp/${HOST}/${PORT}") 2>/dev/null; then
  echo "port ${HOST}:${PORT} is in use but does not answer InfluxDB /ping" >&2
  exit 1
fi

DIR=$(mktemp -d "${TMPDIR:-/tmp}/flotilla-influxdb.XXXXXX")
LOG="${DIR}/influxd.log"
cat >"${DIR}/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "${HOST}:8088"

[meta]
  dir = "${DIR}/meta"

[data]
  dir = "${DIR}/data"
  wal-dir = "${DIR}/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "${HOST}:${PORT}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false

[continuous_queries]
  enabled = true
CONF

# setsid detaches influxd from this shell so it outlives the script.
setsid nohup influxd -config "${DIR}/influxdb.conf" >"${LOG}" 2>&1 </dev/null &
PID=$!
echo "${PID}" >"${DIR}/influxd.pid"

for _ in $(seq 1 60); do
  if ping_ok; then
    echo "influxd started (pid ${PID}, data in ${DIR}, log ${LOG})" >&2
    echo "FLOTILLA_TEST_INFLUXDB_URL=${URL}"
    exit 0
  fi
  if ! kill -0 "${PID}" 2>/dev/null; then
    break
  fi
  sleep 0.5
done

echo "influxd did not answer ${URL}/ping within 30 s; last log lines:" >&2
tail -n 40 "${LOG}" >&2 || true
kill "${PID}" 2>/dev/null || true
exit 1
