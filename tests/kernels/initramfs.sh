#!/bin/sh
# initramfs.sh KERNEL_DIR OUTPUT: packs the guest's initramfs for the kernel
# package unpacked in KERNEL_DIR: static busybox, tests/kernels/init, and
# the modules the guest needs to mount the host's root (9p) and an overlay,
# copied from the package (decompressed when they are .ko.xz).
set -eu
kdir=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)

busybox=/bin/busybox
if [ ! -x "$busybox" ] || readelf -l "$busybox" 2>/dev/null | grep -q INTERP; then
	echo "initramfs: $busybox is not the static busybox (package busybox-static)" >&2
	exit 1
fi
moddir=$(ls -d "$kdir"/lib/modules/*/ | head -n 1)
[ -d "$moddir" ] || { echo "initramfs: no lib/modules in $kdir" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/modules" "$stage/proc" "$stage/sys" "$stage/dev"
cp "$busybox" "$stage/bin/busybox"
cp "$here/init" "$stage/init"
chmod 755 "$stage/init"

# The modules the guest loads, each after those it depends on (the
# "depends=" of its .modinfo); virtio, virtio_pci and fscache are built
# into some kernels, so a module without a file is left out.
WANTED="virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
 netfs fscache 9pnet 9pnet_virtio 9p overlay"
for m in $WANTED; do
	f=$(find "$moddir" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" \) | head -n 1)
	[ -n "$f" ] || continue
	case "$f" in
	*.xz) xz -dc "$f" >"$stage/modules/$m.ko" ;;
	*.zst) zstd -qdc "$f" >"$stage/modules/$m.ko" ;;
	*) cp "$f" "$stage/modules/$m.ko" ;;
	esac
done

add_in_order() {
	grep -qx "$1" "$stage/modules/order" && return 0
	for dep in $(strings "$stage/modules/$1.ko" | sed -n 's/^depends=//p' | tr , ' '); do
		[ -f "$stage/modules/$dep.ko" ] && add_in_order "$dep"
	done
	echo "$1" >>"$stage/modules/order"
}
: >"$stage/modules/order"
for m in $WANTED; do
	[ -f "$stage/modules/$m.ko" ] && add_in_order "$m"
done

(cd "$stage" && find . | cpio -o -H newc --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
