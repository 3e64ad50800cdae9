#!/bin/sh
# `make image`: spanprobe's container image, built on this machine without
# pulling a base image: a root file system of the Debian packages the
# binary needs (deploy/image-packages.sh, deploy/image-rootfs.sh) plus the
# binary, committed with buildah and written as an OCI archive
# BUILD/image/spanprobe-oci.tar (image spanprobe:VERSION).  No container
# is run.  deploy/Containerfile builds the same image where a registry is
# at hand.  Run as root.
#
# usage: deploy/image.sh BUILD VERSION
set -eu

build=${1:?usage: image.sh BUILD VERSION}
version=${2:?usage: image.sh BUILD VERSION}
here=$(dirname "$(readlink -f "$0")")
bin="$build/spanprobe"
out="$build/image"
name="spanprobe:$version"
archive="$out/spanprobe-oci.tar"

[ "$(id -u)" = 0 ] || { echo "image: run as root (mmdebstrap and buildah write a root file system)" >&2; exit 1; }
for tool in mmdebstrap buildah; do
	command -v "$tool" >/dev/null || { echo "image: $tool is missing (sh deploy/deps.sh)" >&2; exit 1; }
done

start=$(date +%s)
# The root file system and buildah's store live outside BUILD (make reads
# every *.d under it, and Debian has /etc/ld.so.conf.d) and go at the end.
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/spanprobe-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
rootfs="$tmp/rootfs"
# One package a word (Debian's names have no blanks).
pkgs=$(sh "$here/image-packages.sh" "$bin")
# shellcheck disable=SC2086
echo "image: runtime packages (from the libraries $bin loads):" $pkgs

# The .deb files fetched for an earlier image are kept beside it.
mkdir -p "$out/debs"
# shellcheck disable=SC2086
SP_IMAGE_DEBS="$out/debs" sh "$here/image-rootfs.sh" "$rootfs" $pkgs
# Without its debugging sections (a fifth of its size), symbols kept.
mkdir -p "$rootfs/usr/local/bin"
strip --strip-debug -o "$rootfs/usr/local/bin/spanprobe" "$bin"

# buildah's own store for this build only (vfs: no mounts to undo).
b() { buildah --root "$tmp/storage" --runroot "$tmp/run" --storage-driver vfs "$@"; }

ctr=$(b from --quiet scratch)
mnt=$(b mount "$ctr")
cp -a "$rootfs/." "$mnt/"
b umount "$ctr" >/dev/null
b config \
	--entrypoint '["/usr/local/bin/spanprobe"]' --cmd run \
	--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--os linux --arch "$(dpkg --print-architecture)" \
	--label org.opencontainers.image.title=spanprobe \
	--label org.opencontainers.image.version="$version" \
	--label org.opencontainers.image.description="Zero-code distributed tracing with eBPF: OpenTelemetry spans of a host's processes" \
	--label org.opencontainers.image.licenses=MIT \
	"$ctr"
b commit --quiet --rm --omit-history "$ctr" "$name" >/dev/null
rm -f "$archive"
b push --quiet "$name" "oci-archive:$archive:$name"

archive_bytes=$(stat -c %s "$archive")
root_bytes=$(du -sb "$rootfs" | cut -f1)
echo "image: $name in $archive"
awk -v a="$archive_bytes" -v r="$root_bytes" -v t="$(($(date +%s) - start))" 'BEGIN {
	printf "image: %.1f MB compressed (the archive), %.1f MB unpacked (the root file system), built in %d s\n",
		a / 1e6, r / 1e6, t }'
