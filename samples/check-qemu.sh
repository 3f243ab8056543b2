#!/bin/bash
# check-qemu.sh - run every test of expected/manifest.tsv under QEMU and compare
# the serial output and the exit status with the recorded ones.
#   QEMU=/path/to/qemu-system-i386 ./check-qemu.sh       (default: qemu-system-i386)
# Extra QEMU options (e.g. "-L /usr/share/seabios") can be given in QEMU_OPTS.
# A test's own QEMU options (e.g. "-accel tcg -cpu qemu32,+svm,+npt") are in the manifest's
# optional 10th column. Match mode "qemu-file": QEMU departs from the AMD APM there, so its
# output is compared with the raw QEMU recording (expected FILE.txt -> FILE.qemu.txt).
cd "$(dirname "$0")" || exit 2
QEMU=${QEMU:-qemu-system-i386}
fail=0
# Lines of tevmm's trap ledger ("tevmm: ...") and of hv2's ("vmm:   ...") count traps and time, which differ between
# machines: the ledger modes compare them without their digits and spaces (and, for vmm, without "-" and
# ".": QEMU 7.2 has no instructions-retired MSR, so vmm shows "-" for its instruction counts).
shape() { sed '/^tevmm:/s/[0-9 ]//g; /^vmm:   /s/[-0-9 .]//g'; }
while IFS=$'\t' read -r name image boot cmdline input expected status match _ qemu_args; do
    case "$name" in ''|'#'*) continue ;; esac
    args=(-display none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot)
    if [ "$boot" = disk ]; then args+=(-drive "format=raw,file=$image"); else args+=(-kernel "$image"); fi
    [ "$cmdline" != - ] && args+=(-append "$cmdline")
    # shellcheck disable=SC2206
    [ -n "$qemu_args" ] && args+=($qemu_args)
    [ "$input" = - ] && input=/dev/null
    out=$(mktemp)
    # shellcheck disable=SC2086
    timeout 120 "$QEMU" $QEMU_OPTS "${args[@]}" < "$input" > "$out" 2>/dev/null
    got=$?
    if [ "$match" = mem ]; then   # recorded under QEMU with its default 128 MiB: exact here
        same=$(cmp -s "$out" "$expected" && echo yes)
    elif [ "$match" = rf ]; then
        same=$(cmp -s "$out" <(sed 's/EFLAGS: 0x10*\([1-9a-f][0-9a-f]*\) /EFLAGS: 0x\1 /' "$expected") && echo yes)
    elif [ "$match" = qemu-file ]; then
        same=$(cmp -s "$out" "${expected%.txt}.qemu.txt" && echo yes)
    elif [ "$match" = ledger ]; then
        same=$(cmp -s <(shape < "$out") <(shape < "$expected") && echo yes)
    elif [ "$match" = ledger-rf ]; then
        same=$(cmp -s <(shape < "$out") <(sed 's/EFLAGS: 0x10*\([1-9a-f][0-9a-f]*\) /EFLAGS: 0x\1 /' "$expected" | shape) && echo yes)
    elif [ "$match" = hv-lines ]; then
        hvshape() { sed '/^hv1:/s/[-0-9 .]//g; s/EFLAGS: 0x10*\([1-9a-f][0-9a-f]*\) /EFLAGS: 0x\1 /' | sort; }
        same=$(cmp -s <(hvshape < "$out") <(hvshape < "$expected") && echo yes)
    elif [ "$match" = subset ]; then   # timing-dependent lines left out of the expected file
        same=$(grep -Fxvf "$out" "$expected" | grep -q . || echo yes)
    elif [ "$match" = lines ]; then
        same=$(cmp -s <(sort "$out") <(sort "$expected") && echo yes)
    else
        same=$(cmp -s "$out" "$expected" && echo yes)
    fi
    if [ "$same" = yes ] && [ "$got" = "$status" ]; then
        echo "ok    $name"
    else
        echo "FAIL  $name (status $got, expected $status; output matches: ${same:-no})"
        diff "$expected" "$out" | head -20
        fail=1
    fi
    rm -f "$out"
done < expected/manifest.tsv
exit $fail
