#!/usr/bin/env bash
# Benchmark: our latency probe beside cyclictest (rt-tests), the tool whose
# method it copies, on the same machine under the same load. Each round runs
# both one after the other (alternating which goes first, so that a drift in
# the load does not favour either) with the same settings: one SCHED_FIFO
# thread per CPU at priority 80, pinned, 1000 us interval, memory locked,
# /dev/cpu_dma_latency held at 0. A stress-ng load (one CPU hog, one I/O
# worker) runs throughout. Prints each round, then the medians of both tools'
# max and p99 latency and CPU time, and our/cyclictest ratios. Goal (issue 4):
# max and p99 within 15% of cyclictest's, CPU time no higher.
#   scripts/bench-latency.sh [ROUNDS] [SECONDS]     (defaults: 3 rounds of 10 s)
# Needs root (SCHED_FIFO, mlockall), cyclictest, stress-ng and python3:
#   apt-get install rt-tests stress-ng    or    dnf install realtime-tests stress-ng
# RTAUDIO_TUNING=PATH benchmarks another build of the probe.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-10}
interval=1000
priority=80
# cyclictest's histogram bound, in us: the same 100 ms top as our histogram.
hist_top=100000

if [ "$(id -u)" -ne 0 ]; then
    echo "bench-latency: run as root: both tools need SCHED_FIFO and mlockall to measure what matters" >&2
    exit 3
fi
for tool in cyclictest stress-ng python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "bench-latency: $tool is missing: apt-get install rt-tests stress-ng python3 (dnf: realtime-tests stress-ng python3)" >&2
        exit 3
    fi
done

bin=${RTAUDIO_TUNING:-target/release/rtaudio-tuning}
if [ ! -x "$bin" ]; then
    cargo build --release --quiet
fi

work=$(mktemp -d)
load_pid=""
cleanup() {
    if [ -n "$load_pid" ]; then
        kill "$load_pid" 2>/dev/null || true
        wait "$load_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The load outlives every round by a margin; cleanup stops it early.
stress-ng --cpu 1 --io 1 --timeout "$((rounds * 2 * (seconds + 5) + 30))s" --quiet &
load_pid=$!
sleep 2

# Run a command, writing its user+system CPU seconds to the file $1 (bash's
# time keyword: children's CPU only, not the load's).
cpu_time() {
    local out=$1
    shift
    local TIMEFORMAT='%U %S'
    if ! { time "$@" 2>"$work/stderr"; } 2>"$out.raw"; then
        echo "bench-latency: failed: $*" >&2
        cat "$work/stderr" >&2
        exit 1
    fi
    awk '{ printf "%.3f\n", $1 + $2 }' "$out.raw" >"$out"
}

ours() {
    cpu_time "$work/ours.cpu" "$bin" latency --duration "$seconds" --interval "$interval" \
        --priority "$priority" --json >"$work/ours.json"
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(round(d["max_us"], 1), round(d["p99_us"], 1))' \
        <"$work/ours.json" >"$work/ours.figures"
}

# cyclictest -t -a: one thread per CPU, thread N pinned to CPU N; -h sets every
# thread to the same priority and the same interval (no -d distance).
theirs() {
    cpu_time "$work/ct.cpu" cyclictest -m -q -p "$priority" -i "$interval" -D "$seconds" \
        -t -a -h "$hist_top" --histfile="$work/ct.hist" >/dev/null
    # Max: the largest of the threads' "# Max Latencies". p99: the smallest
    # microsecond row whose cumulative count, over all threads, reaches 99% of
    # the samples (overflows count as above every row), as an HDR histogram
    # reports it.
    awk -v top="$hist_top" '
        /^# Total:/ { for (i = 3; i <= NF; i++) total += $i; next }
        /^# Max Latencies:/ { for (i = 4; i <= NF; i++) if ($i + 0 > max) max = $i + 0; next }
        /^#/ { next }
        NF > 1 { n = 0; for (i = 2; i <= NF; i++) n += $i; count[$1 + 0] = n; rows = $1 + 0 }
        END {
            need = total * 0.99
            if (need > int(need)) need = int(need) + 1
            p99 = top
            for (r = 0; r <= rows; r++) { cum += count[r]; if (cum >= need) { p99 = r; break } }
            print max, p99
        }' "$work/ct.hist" >"$work/ct.figures"
}

: >"$work/rows"
for ((round = 1; round <= rounds; round++)); do
    if ((round % 2)); then
        ours
        theirs
    else
        theirs
        ours
    fi
    read -r our_max our_p99 <"$work/ours.figures"
    read -r ct_max ct_p99 <"$work/ct.figures"
    our_cpu=$(cat "$work/ours.cpu")
    ct_cpu=$(cat "$work/ct.cpu")
    printf 'round %d: ours max %s us, p99 %s us, cpu %s s | cyclictest max %s us, p99 %s us, cpu %s s\n' \
        "$round" "$our_max" "$our_p99" "$our_cpu" "$ct_max" "$ct_p99" "$ct_cpu"
    echo "$our_max $our_p99 $our_cpu $ct_max $ct_p99 $ct_cpu" >>"$work/rows"
done

median() {
    sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
col() {
    awk -v c="$1" '{ print $c }' "$work/rows" | median
}
our_max=$(col 1)
our_p99=$(col 2)
our_cpu=$(col 3)
ct_max=$(col 4)
ct_p99=$(col 5)
ct_cpu=$(col 6)
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}

echo
echo "medians of $rounds rounds of $seconds s, $interval us interval, priority $priority, under stress-ng --cpu 1 --io 1:"
printf '%-16s %10s %10s %8s\n' "" "max (us)" "p99 (us)" "cpu (s)"
printf '%-16s %10s %10s %8s\n' ours "$our_max" "$our_p99" "$our_cpu"
printf '%-16s %10s %10s %8s\n' cyclictest "$ct_max" "$ct_p99" "$ct_cpu"
printf '%-16s %10s %10s %8s\n' ours/cyclictest "$(ratio "$our_max" "$ct_max")" \
    "$(ratio "$our_p99" "$ct_p99")" "$(ratio "$our_cpu" "$ct_cpu")"
