#!/usr/bin/env bash
# Records samples/linux/expected-qemu.txt: the Linux guest of tests/linux_boot.rs booted
# under QEMU, the smallest PC that runs it (-M isapc, a Pentium II without its local APIC,
# which an ISA PC without an MP table has no use for). Types the same command once /init
# asks for it. Needs the files fetch.sh leaves and the initramfs.cpio the test writes
# beside them (run `cargo test --test linux_boot` once first). With --apic it boots a PC
# with its local APIC and I/O APIC instead (-M pc -cpu pentium2, the oracle of the test's
# `--apic` boot) and checks its lines against the recording rather than rewriting it.
#   usage: QEMU=/path/to/qemu-system-i386-wrapper samples/linux/check-qemu.sh [--apic] [DIR]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
MACHINE=(-M isapc -cpu pentium2,-apic)
APIC=0
if [ "${1:-}" = --apic ]; then
  APIC=1
  MACHINE=(-M pc -cpu pentium2)
  shift
fi
DIR=${1:-"$HERE/cache"}
QEMU=${QEMU:-qemu-system-i386}
CMD='echo sum=$((6*7)); cat /proc/cmdline'
for f in vmlinuz initramfs.cpio; do
  [ -s "$DIR/$f" ] || { echo "check-qemu.sh: no $DIR/$f" >&2; exit 1; }
done
OUT=$(mktemp)
coproc Q { exec timeout 300 $QEMU "${MACHINE[@]}" -m 256 -kernel "$DIR/vmlinuz" \
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
LINES=$(mktemp)
tr -d '\r' <"$OUT" | sed -n '/^TRAPLAB-INIT-OK/,/^TRAPLAB-DONE/p' | grep -v '^\[' >"$LINES"
rm -f "$OUT"
if [ "$APIC" = 1 ]; then
  rc=0
  diff -u "$HERE/expected-qemu.txt" "$LINES" || rc=1
  [ "$rc" = 1 ] || echo "check-qemu.sh --apic: the same lines as expected-qemu.txt"
  rm -f "$LINES"
  exit $rc
fi
mv "$LINES" "$HERE/expected-qemu.txt"
cat "$HERE/expected-qemu.txt"
