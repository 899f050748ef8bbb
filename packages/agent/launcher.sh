#!/bin/sh
# Keeps the agent running for the price of a shell (about 2 MB instead of a second Node process).
# Usage: launcher.sh <agent command...>. The agent exits 75 to hand over to a new version of itself:
# it is started again at once. Exit 78 is a refusal for good (a revoked credential): passed on. Any
# other exit is a crash: restarted after 1, 2, 4 ... 30 s. SIGTERM and SIGINT reach the agent as SIGTERM
# (which ignores the SIGINT a terminal sends its whole group): a second one stops it at once.

child=
stopping=
interrupted=
pass_on() {
  stopping=1
  interrupted=1
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
}
trap pass_on TERM INT

delay=1
while :; do
  started=$(date +%s)
  FLOTILLA_AGENT_LAUNCHER=$$ "$@" &
  child=$!
  wait "$child"
  code=$?
  # A trapped signal ends `wait` early: wait again, for the agent's own exit status (the shell keeps it).
  while [ -n "$interrupted" ]; do
    interrupted=
    wait "$child"
    again=$?
    [ "$again" -ne 127 ] && code=$again
  done
  child=
  [ -n "$stopping" ] && exit "$code"
  case $code in
  75) delay=1 && continue ;;
  78) exit 78 ;;
  esac
  # A crash after a long run starts the backoff again.
  [ $(($(date +%s) - started)) -ge 60 ] && delay=1
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) WARN launcher the agent exited with code $code; starting it again in $delay s" >&2
  sleep "$delay" &
  wait $! 2>/dev/null
  kill $! 2>/dev/null
  [ -n "$stopping" ] && exit "$code"
  delay=$((delay * 2))
  [ "$delay" -gt 30 ] && delay=30
done
