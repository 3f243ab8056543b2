#!/usr/bin/env bash
# Records samples/linux/expected-qemu.txt: the Linux guest of tests/linux_boot.rs booted
# under QEMU, the smallest PC that runs it (-M isapc, a Pentium II without its local APIC,
# which an ISA PC without an MP table has no use for). Types the same command once /init
# asks for it. Needs the files fetch.sh leaves and the initramfs.cpio the test writes
# beside them (run `cargo test --test linux_boot` once first).
#   usage: QEMU=/path/to/qemu-system-i386-wrapper samples/linux/check-qemu.sh [DIR]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:-"$HERE/cache"}
QEMU=${QEMU:-qemu-system-i386}
CMD='echo sum=$((6*7)); cat /proc/cmdline'
for f in vmlinuz initramfs.cpio; do
  [ -s "$DIR/$f" ] || { echo "check-qemu.sh: no $DIR/$f" >&2; exit 1; }
done
OUT=$(mktemp)
coproc Q { exec timeout 300 $QEMU -M isapc -cpu pentium2,-apic -m 256 -kernel "$DIR/vmlinuz" \
  -initrd "$DIR/initramfs.cpio" -append "console=ttyS0" -display none -serial stdio \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot 2>&1; }
QPID=$Q_PID
while IFS= read -r line <&"${Q[0]}"; do
  printf '%s\n' "$line" >>"$OUT"
  case "$line" in *"command?"*) printf '%s\n' "$CMD" >&"${Q[1]}" ;; esac
done
wait "$QPID" && status=0 || status=$?
# isa-debug-exit: (1 << 1) | 1.
[ "$status" = 3 ] || { echo "check-qemu.sh: QEMU exited with $status, not 3" >&2; tail -20 "$OUT" >&2; exit 1; }
tr -d '\r' <"$OUT" | sed -n '/^TRAPLAB-INIT-OK/,/^TRAPLAB-DONE/p' | grep -v '^\[' >"$HERE/expected-qemu.txt"
rm -f "$OUT"
cat "$HERE/expected-qemu.txt"
