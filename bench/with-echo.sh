#!/bin/sh
# with-echo.sh ECHO_JS tcp|udp PORT command...: start the minimal Node echo server on
# 127.0.0.1:PORT, wait (bounded) until it is up, then exec the relay command, so that
# every relay in the relay benchmark starts and pays for the same back end.
# The port is the same in every repetition: an echo that exits at once (the last
# repetition's echo, being stopped, still holds the port) is started again.
echo_js=$1 t=$2 p=$3
shift 3
start_echo() {
  node "$echo_js" "$t" "$p" 127.0.0.1 2>/dev/null &
  echo_pid=$!
}
start_echo
i=0
while [ "$i" -lt 200 ]; do
  if [ "$t" = tcp ]; then
    nc -z 127.0.0.1 "$p" 2>/dev/null && break
  else
    ss -Hlun "sport = :$p" 2>/dev/null | grep -q . && break
  fi
  kill -0 "$echo_pid" 2>/dev/null || start_echo
  i=$((i + 1))
  sleep 0.05
done
exec "$@"
