#!/bin/sh
# Prints the Debian packages the container image of spanprobe needs at run
# time, one a line: those that own the shared libraries BINARY loads (ldd,
# then dpkg -S), plus the few files it reads without linking them.  Both
# `make image` (deploy/image.sh) and deploy/Containerfile take the list
# from here, so a library added to the link line reaches the image alone.
#
# usage: deploy/image-packages.sh BINARY
set -eu

bin=${1:?usage: image-packages.sh BINARY}
[ -x "$bin" ] || { echo "image-packages: $bin: no such executable; run make first" >&2; exit 1; }

# Read at run time, never linked: the CA bundle the OTLP exporter verifies
# a collector's certificate against (SSL_CTX_set_default_verify_paths).
EXTRA="ca-certificates"

# ldd lines: "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" and
# "/lib64/ld-linux-x86-64.so.2 (0x...)"; the vDSO has no file.
libs=$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
if ldd "$bin" | grep -q 'not found'; then
	echo "image-packages: $bin needs a library that is not here:" >&2
	ldd "$bin" | grep 'not found' >&2
	exit 1
fi

# dpkg knows a library by the path its package ships, which on a
# merged-/usr system may be /usr/lib/... where the loader names /lib/...
# (or the other way round), or the target of a link: each is asked for, in
# one query (dpkg-query reads its whole file list per call).
variants() {
	echo "$1"
	echo "/usr$1"
	echo "${1#/usr}"
	readlink -f "$1"
}
owners=$(for lib in $libs; do variants "$lib"; done | sort -u | xargs dpkg-query -S 2>/dev/null) || true

pkgs=$(
	for lib in $libs; do
		pkg=$(variants "$lib" | while read -r p; do
			echo "$owners" | awk -v p="$p" '$1 != "diversion" && $NF == p {
				sub(/,.*/, "", $1); sub(/:.*/, "", $1); print $1; exit }'
		done | head -n 1)
		if [ -z "$pkg" ]; then
			echo "image-packages: no Debian package owns $lib; the image cannot have it" >&2
			exit 1
		fi
		echo "$pkg"
	done
	for p in $EXTRA; do echo "$p"; done
)
echo "$pkgs" | sort -u
