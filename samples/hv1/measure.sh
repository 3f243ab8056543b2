#!/bin/bash
# measure.sh - minios natively vs under hv1 (one VM), on Traplab: instructions retired,
# virtual time, and hv1's #VMEXITs per thousand guest instructions, for three workloads:
#   boot     boot to the prompt and `exit`
#   cpu      boot, `run cpu` (CPU-bound: primes below 300000), exit
#   console  boot, `help` ten times (console output: each character is 6 port writes/reads), exit
# Usage (from the repository root): samples/hv1/measure.sh [path/to/traplab]
# Numbers come from `traplab run --stats` (its worlds table and exit ledger).
T=${1:-target/release/traplab}
[ -x "$T" ] || T=target/debug/traplab
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'exit\n' > "$tmp/boot"
printf 'run cpu\nexit\n' > "$tmp/cpu"
for i in 1 2 3 4 5 6 7 8 9 10; do printf 'help\n'; done > "$tmp/console"
printf 'exit\n' >> "$tmp/console"
stat() { grep "^$1" | head -1 | sed "s/^$1 *//"; }
printf '%-8s %14s %12s | %14s %14s %12s %8s %10s\n' workload native-insns native-ms \
    hv1-insns guest-insns hv1-ms exits exits/1000
for w in boot cpu console; do
    n=$("$T" run samples/minios/minios.elf --input "$tmp/$w" --stats 2>&1 >/dev/null)
    v=$("$T" run samples/hv1/hv1.elf --module samples/minios/minios.elf --cmdline vms=1 \
        --input "$tmp/$w" --stats 2>&1 >/dev/null)
    ni=$(echo "$n" | stat 'instructions retired:')
    nt=$(echo "$n" | stat 'virtual time:' | sed 's/ ms//')
    vi=$(echo "$v" | stat 'instructions retired:')
    vt=$(echo "$v" | stat 'virtual time:' | sed 's/ ms//')
    gi=$(echo "$v" | awk '$1 == "guest" && $2 == "1" { print $5 }')
    ex=$(echo "$v" | awk '/^--- exit ledger/ { on = 1; next } on && /^0x/ { s += $NF } END { print s + 0 }')
    per=$(awk -v e="$ex" -v g="$gi" 'BEGIN { printf "%.2f", 1000 * e / g }')
    printf '%-8s %14s %12s | %14s %14s %12s %8s %10s\n' "$w" "$ni" "$nt" "$vi" "$gi" "$vt" "$ex" "$per"
done
