#!/usr/bin/env bash
# Fetches the Linux guest of tests/linux_boot.rs: a Debian i386 kernel (the non-PAE "686"
# flavour) and busybox-static:i386, with apt in a private state directory (the system's apt
# configuration and package lists are never touched). Leaves DIR/vmlinuz (a bzImage),
# DIR/busybox (static i386) and DIR/VERSIONS. Idempotent: does nothing when they exist.
#   usage: samples/linux/fetch.sh [DIR]     (default: samples/linux/cache)
set -euo pipefail
DIR=${1:-"$(dirname "$0")/cache"}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
if [ -s "$DIR/vmlinuz" ] && [ -s "$DIR/busybox" ]; then
  exit 0
fi
APT="$DIR/apt"
mkdir -p "$APT/state/lists/partial" "$APT/cache/archives/partial" "$APT/etc/sources.list.d" \
  "$APT/etc/preferences.d" "$APT/debs"
: >"$APT/state/status"
# The same Debian release as the host (bookworm when it cannot be told), main only (its
# point releases carry the current kernel; the security archive is left out: one mirror less).
SUITE=bookworm
if [ -r /etc/os-release ]; then
  . /etc/os-release
  SUITE=${VERSION_CODENAME:-bookworm}
fi
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
echo "deb [arch=i386 signed-by=$KEYRING] $MIRROR $SUITE main" >"$APT/etc/sources.list"
OPTS=(-o "Dir::State=$APT/state" -o "Dir::State::status=$APT/state/status"
  -o "Dir::Cache=$APT/cache" -o "Dir::Etc::SourceList=$APT/etc/sources.list"
  -o "Dir::Etc::SourceParts=$APT/etc/sources.list.d" -o "Dir::Etc::Preferences=$APT/etc/preferences"
  -o "Dir::Etc::PreferencesParts=$APT/etc/preferences.d"
  -o "APT::Architecture=i386" -o "APT::Architectures::=i386" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
apt-get "${OPTS[@]}" -qq update
# The metapackage names the kernel of the day: linux-image-686 -> linux-image-X.Y.Z-N-686.
KPKG=$(apt-cache "${OPTS[@]}" depends linux-image-686 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-686\)$/\1/p' | head -1)
[ -n "$KPKG" ] || { echo "fetch.sh: no linux-image-*-686 behind linux-image-686" >&2; exit 1; }
(cd "$APT/debs" && apt-get "${OPTS[@]}" -qq download "$KPKG:i386" busybox-static:i386)
rm -rf "$APT/x" && mkdir -p "$APT/x"
for d in "$APT"/debs/*.deb; do dpkg-deb -x "$d" "$APT/x"; done
cp "$(ls "$APT"/x/boot/vmlinuz-* | head -1)" "$DIR/vmlinuz.tmp"
cp "$APT/x/bin/busybox" "$DIR/busybox.tmp"
(cd "$APT/debs" && ls *.deb) >"$DIR/VERSIONS"
rm -rf "$APT"  # lists and packages: 30 MB not needed once the two files are out
mv "$DIR/busybox.tmp" "$DIR/busybox"
mv "$DIR/vmlinuz.tmp" "$DIR/vmlinuz"
echo "fetch.sh: $(cat "$DIR/VERSIONS" | tr '\n' ' ')in $DIR"
