#!/usr/bin/env bash
# Batch decode and encode through the release binary (process start, hex and JSON included)
# against pyiso8583 in-process, on the same N typical 0200 authorizations, in each built-in spec.
#
#   benches/batch.sh [N]          (default N = 50000; needs python3 with `pip install pyiso8583`)
#
# Prints, per spec: seconds for `iso8583 encode` and `iso8583 decode --json` (best of RUNS runs,
# default 5), pyiso8583's seconds for the same messages (best of PY_RUNS, default 3), and how many
# times faster the tool is. pyiso8583 runs as its own process
# (benches/batch_pyiso8583.py); its code is no part of the crate.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-50000}"
cargo build --release --quiet --bin iso8583
BIN=target/release/iso8583
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# N typical 0200s (the fields of benches/codec.rs), STAN and amount varying.
python3 - "$N" > "$WORK/in.jsonl" <<'PY'
import json, sys
n = int(sys.argv[1])
for i in range(n):
    stan = "%06d" % (i % 999999 + 1)
    print(json.dumps({"mti": "0200", "fields": {
        "2": "4761739001010119", "3": "000000", "4": "%012d" % (1000 + i % 90000),
        "7": "1127203015", "11": stan, "12": "203015", "13": "1127", "14": "2812",
        "18": "5411", "22": "051", "25": "00", "35": "4761739001010119=28122011143857589",
        "37": "7331200" + stan[1:], "41": "TERM0001", "42": "MERCHANT0000001", "49": "840"}},
        separators=(",", ":")))
PY

# times COMMAND: "wall cpu" seconds, the best of RUNS runs (default 5; the least disturbed by
# the machine's other load); wall to the nanosecond, cpu = user + system (10 ms resolution).
RUNS="${RUNS:-5}"
times() {
    local best_wall="" best_cpu="" start end wall cpu
    for _ in $(seq 1 "$RUNS"); do
        start=$(date +%s%N)
        /usr/bin/time -f "%U %S" -o "$WORK/time" "$@"
        end=$(date +%s%N)
        wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
        cpu=$(awk '{ printf "%.3f", $1 + $2 }' "$WORK/time")
        best_wall=$(awk -v a="$wall" -v b="${best_wall:-1e9}" 'BEGIN { print (a < b) ? a : b }')
        best_cpu=$(awk -v a="$cpu" -v b="${best_cpu:-1e9}" 'BEGIN { print (a < b) ? a : b }')
    done
    echo "$best_wall $best_cpu"
}

echo "$N typical 0200s; wall seconds (CPU seconds); x = pyiso8583 time / iso8583 time"
printf '%-26s %-14s %-14s %-14s %-14s %-13s %-13s %s\n' spec iso8583_encode pyiso_encode iso8583_decode pyiso_decode "encode x" "decode x" same_bytes
for pair in iso87-ascii:default_ascii iso87-ascii-binary-bitmap:default iso87-bcd:bcd; do
    spec="${pair%%:*}"; flavour="${pair##*:}"
    enc=$(times sh -c "exec $BIN encode --spec $spec --file $WORK/in.jsonl > $WORK/out.hex")
    dec=$(times sh -c "exec $BIN decode --spec $spec --json --reveal --file $WORK/out.hex > /dev/null")
    py=$(python3 benches/batch_pyiso8583.py "$flavour" "$WORK/in.jsonl" "$WORK/out.hex" "${PY_RUNS:-3}")
    python3 - "$spec" "$enc" "$dec" "$py" <<'PY'
import json, sys
spec, enc, dec, py = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), json.loads(sys.argv[4])
ew, ec, dw, dc = map(float, enc + dec)
pe, pec, pd, pdc = py["encode_s"], py["encode_cpu_s"], py["decode_s"], py["decode_cpu_s"]
cell = lambda w, c: f"{w:.3f} ({c:.3f})"
print(f"{spec:<26} {cell(ew, ec):<14} {cell(pe, pec):<14} {cell(dw, dc):<14} {cell(pd, pdc):<14} "
      f"{f'{pe / ew:.1f} ({pec / max(ec, 0.001):.1f})':<13} {f'{pd / dw:.1f} ({pdc / max(dc, 0.001):.1f})':<13} "
      f"{py['same_bytes']}/{py['messages']}")
PY
done
