#!/usr/bin/env bash
# The transport benchmark with the hosts and the clients in two processes (as a service and its
# host would be): one process serves the simulator, the bare echo, the codec echo and the codec
# host on 127.0.0.1; the other runs every arrangement against them.
#
#   benches/transport_two_process.sh [SECONDS_PER_CASE] [PORT]     (defaults: 2, 47000)
#
# Columns: see benches/transport.rs. The hosts stop after SERVE_SECS (600) or when this script ends.
# CLIENT_BIN=path runs the client side with another build of the same benchmark (an earlier
# commit's, for a before/after comparison against the same hosts).
# PAIRS=N measures only the speed goal: N alternating rounds of the transport against the codec
# host and the codec echo, at 1 link x 128 and 4 links x 32, with the median ratio
# (e.g. `PAIRS=11 benches/transport_two_process.sh 1`).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-2}"
PORT="${2:-47000}"
BIN=$(cargo bench --bench transport --no-run --message-format=json 2>/dev/null |
    grep '"name":"transport"' | grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4)
[ -x "$BIN" ] || { echo "error: the transport benchmark did not build" >&2; exit 1; }
ISO8583_BENCH_SERVE="$PORT" ISO8583_BENCH_SERVE_SECS="${SERVE_SECS:-600}" "$BIN" --bench > /dev/null &
HOSTS=$!
trap 'kill "$HOSTS" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$((PORT + 3))") 2>/dev/null && break
    sleep 0.1
done
ISO8583_BENCH_PAIRS="${PAIRS:-}" ISO8583_BENCH_SECS="$SECS" ISO8583_BENCH_REMOTE="$PORT" "${CLIENT_BIN:-$BIN}" --bench
