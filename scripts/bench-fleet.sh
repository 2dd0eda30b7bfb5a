#!/usr/bin/env bash
# Benchmark: `rtaudio-tuning fleet` on generated inventories of 100, 1,000 and
# 10,000 hosts (or the sizes given). Each host has its own name, MAC address
# and static address; the hardware comes in a few kinds (CPU vendor, isolated
# CPUs, IRQ bans), as in a room bought in batches. Each size is rendered
# ROUNDS times into a fresh folder (inventory validation included) and once
# more over its own previous output (nothing changed: nothing is rewritten).
# Prints per size the median wall time, hosts per second and, against the
# smallest size, how the cost per host grows.
# Goal (issue 7): 10,000 hosts in under 0.5 s wall on 2 cores.
#   scripts/bench-fleet.sh [ROUNDS] [SIZES...]      (defaults: 5 rounds; 100 1000 10000)
# RTAUDIO_TUNING=PATH benchmarks another build.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
shift || true
sizes=("$@")
if [ ${#sizes[@]} -eq 0 ]; then
    sizes=(100 1000 10000)
fi
bin=${RTAUDIO_TUNING:-}
if [ -z "$bin" ]; then
    cargo build --release --quiet
    bin=target/release/rtaudio-tuning
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp examples/studio.toml "$work/studio.toml"

inventory() {
    local n=$1 i kind
    printf 'version = 1\nprofile = "studio.toml"\n\n[pxe]\nurl = "http://10.0.0.1/fleet"\n'
    printf 'kernel = "http://10.0.0.1/os/images/pxeboot/vmlinuz"\ninitrd = "http://10.0.0.1/os/images/pxeboot/initrd.img"\nrepo = "http://10.0.0.1/os/"\n'
    for ((i = 0; i < n; i++)); do
        kind=$((i % 4))
        printf '\n[[host]]\nname = "studio-%05d"\n' "$i"
        printf 'mac = "52:54:%02x:%02x:%02x:%02x"\n' $((i >> 24 & 255)) $((i >> 16 & 255)) $((i >> 8 & 255)) $((i & 255))
        printf '[host.network]\naddress = "10.%d.%d.%d/16"\ngateway = "10.%d.0.1"\ndns = ["10.%d.0.1"]\n' \
            $((1 + (i >> 16))) $(((i + 10) >> 8 & 255)) $(((i + 10) & 255)) $((1 + (i >> 16))) $((1 + (i >> 16)))
        case $kind in
        1) printf '[host.kernel]\ncpu = "amd"\n' ;;
        2) printf '[host.kernel]\ncpu = "intel"\nisolate_cpus = "2-3"\n[host.irq]\nban = [16, 17]\n' ;;
        3) printf '[host.irq]\nban = [42]\n' ;;
        esac
    done
}

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# Nothing is deleted until the end: on file systems that avoid reusing
# recently freed inodes (ext4 without a journal), creating files right after
# deleting many costs several times more, and that would measure the deletion.
printf '%8s %10s %10s %10s %14s %12s %10s %8s\n' hosts "inv bytes" "wall ms" "hosts/s" "us per host" "unchanged ms" "floor ms" "/floor"
for n in "${sizes[@]}"; do
    inventory "$n" >"$work/fleet-$n.toml"
    # Each round renders into a new folder.
    times=()
    for ((r = 0; r < rounds; r++)); do
        sync
        t0=$(now)
        "$bin" fleet "$work/fleet-$n.toml" -o "$work/out-$r" 2>/dev/null
        t1=$(now)
        times+=($(((t1 - t0) / 1000)))
    done
    mv "$work/out-0" "$work/out"
    again=()
    for ((r = 0; r < rounds; r++)); do
        t0=$(now)
        "$bin" fleet "$work/fleet-$n.toml" -o "$work/out" --changed-only >"$work/changed"
        t1=$(now)
        again+=($(((t1 - t0) / 1000)))
        if [ -s "$work/changed" ]; then
            echo "bench-fleet: re-rendering an unchanged inventory reported changed hosts" >&2
            exit 1
        fi
    done
    # The floor: the same number of files of the same size written by a
    # plain loop (python, no validation, no hashing, no fsync), now.
    size=$(stat -c %s "$work/out/hosts/studio-00000.ks")
    floor=$(python3 - "$work/floor-$n" "$n" "$size" <<'PY'
import os, sys, time
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = b"x" * size
os.makedirs(d)
t = time.perf_counter()
for i in range(n):
    with open(f"{d}/{i}.ks", "wb") as f:
        f.write(data)
print(int((time.perf_counter() - t) * 1e6))
PY
)
    mv "$work/out" "$work/done-$n"
    us=$(printf '%s\n' "${times[@]}" | median)
    us_again=$(printf '%s\n' "${again[@]}" | median)
    per_host=$(awk -v u="$us" -v n="$n" 'BEGIN {printf "%.1f", u / n}')
    printf '%8d %10d %10.1f %10.0f %14s %12.1f %10.1f %8.2f\n' "$n" "$(stat -c %s "$work/fleet-$n.toml")" \
        "$(awk -v u="$us" 'BEGIN {print u / 1000}')" \
        "$(awk -v u="$us" -v n="$n" 'BEGIN {print n / (u / 1e6)}')" \
        "$per_host" "$(awk -v u="$us_again" 'BEGIN {print u / 1000}')" \
        "$(awk -v u="$floor" 'BEGIN {print u / 1000}')" "$(awk -v u="$us" -v f="$floor" 'BEGIN {print u / f}')"
done
echo "(median of $rounds rounds; wall time of the whole command, inventory parsing and validation included;"
echo " floor: a plain loop writing the same number of files of a kickstart's size, without fsync)"
