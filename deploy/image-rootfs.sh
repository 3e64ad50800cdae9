#!/bin/sh
# Builds the root file system of spanprobe's container image in ROOTFS (a
# new directory) from Debian packages: PACKAGE... (deploy/image-packages.sh
# names them) and what they depend on, nothing else, not even a shell.
#
# mmdebstrap's "extract" variant unpacks the packages without running any
# maintainer script, inside or outside the root (shared libraries and a CA
# bundle need none: what a script would make is made here).  The archive
# is the Debian one this machine's apt uses (its sources, its package
# lists, the .deb files it already downloaded), so the libraries are the
# versions spanprobe was built against.  Run as root.
#
# usage: deploy/image-rootfs.sh ROOTFS PACKAGE...
# SP_IMAGE_DEBS=DIR keeps the .deb files used in DIR, and takes them from
# there the next time.
set -eu

self=$(readlink -f "$0")

# Called by mmdebstrap once the packages are unpacked (ROOT as $1): writes
# the dpkg status of what was unpacked, so that the image's packages can
# be listed and checked for security updates by the usual scanners.
if [ "${1:-}" = --extract-hook ]; then
	root=$2
	status="$root/var/lib/dpkg/status"
	mkdir -p "$root/var/lib/dpkg"
	: >"$status"
	# shellcheck disable=SC2086
	APT_CONFIG=$MMDEBSTRAP_APT_CONFIG apt-get install -s -qq --no-install-recommends \
		$SP_IMAGE_PACKAGES | awk '$1 == "Inst" { print $2, substr($3, 2) }' |
	while read -r pkg ver; do
		file="${pkg}_$(echo "$ver" | sed 's/:/%3a/')"
		deb=$(ls "$root/var/cache/apt/archives/$file"_*.deb)
		dpkg-deb -f "$deb" | awk '{ print } /^Package:/ { print "Status: install ok installed" }' >>"$status"
		echo >>"$status"
		if [ -n "${SP_IMAGE_DEBS:-}" ] && [ ! -e "$SP_IMAGE_DEBS/${deb##*/}" ]; then
			cp -l "$deb" "$SP_IMAGE_DEBS/" 2>/dev/null || cp "$deb" "$SP_IMAGE_DEBS/"
		fi
	done
	[ -s "$status" ] || { echo "image-rootfs: no package was unpacked" >&2; exit 1; }
	exit 0
fi

root=${1:?usage: image-rootfs.sh ROOTFS PACKAGE...}
shift
[ $# -gt 0 ] || { echo "usage: image-rootfs.sh ROOTFS PACKAGE..." >&2; exit 2; }
if [ -n "${SP_IMAGE_DEBS:-}" ]; then
	mkdir -p "$SP_IMAGE_DEBS"
	SP_IMAGE_DEBS=$(readlink -f "$SP_IMAGE_DEBS")
	export SP_IMAGE_DEBS
fi
command -v mmdebstrap >/dev/null || { echo "image-rootfs: mmdebstrap is missing (sh deploy/deps.sh)" >&2; exit 1; }

# The Debian archives apt uses here, as apt sees them: each entry of
# `apt-cache policy` whose Release says o=Debian (other vendors' sources,
# which the image does not take from, are left out).
sources=$(apt-cache policy | awk '
	$1 ~ /^[0-9]+$/ && $2 ~ /:\/\// { uri = $2; split($3, sc, "/"); next }
	/^ +release / && uri != "" {
		if ($0 ~ /[ ,]o=Debian,/) print "deb " uri " " sc[1] " " sc[2]
		uri = ""
	}' | sort -u)
if [ -z "$sources" ]; then
	echo "image-rootfs: apt knows no Debian archive here (apt-get update first)" >&2
	exit 1
fi
# shellcheck disable=SC1091
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")

mkdir -p "$(dirname "$root")"
list="$(dirname "$root")/sources.list"
echo "$sources" >"$list"

# Faster: apt's package lists of this machine stand for `apt-get update`
# (the sources above all have theirs: apt-cache saw their Release), and
# the .deb files apt already downloaded (and SP_IMAGE_DEBS) are linked in
# (hard links, free; on another file system they are fetched instead).
# No key is needed: apt checked the lists' signatures when it fetched them.
# With "update", the lists are fetched anew instead: this machine's may
# name versions the archive no longer has.
bootstrap() {
	if [ "$1" = update ]; then
		lists=true skip=
	else
		# shellcheck disable=SC2016 # the hook's $1 is mmdebstrap's
		lists='find /var/lib/apt/lists -maxdepth 1 -type f ! -name lock -exec cp -l -t "$1/var/lib/apt/lists" {} + 2>/dev/null ||
			find /var/lib/apt/lists -maxdepth 1 -type f ! -name lock -exec cp -t "$1/var/lib/apt/lists" {} +'
		skip="--skip=update --skip=check/signed-by"
	fi
	rm -rf "$root"
	# shellcheck disable=SC2016,SC2086 # the hooks' $1 is mmdebstrap's
	SP_IMAGE_PACKAGES="$pkgs" mmdebstrap --variant=extract $skip \
		--include="$(echo "$pkgs" | tr ' ' ',')" \
		--setup-hook='mkdir -p "$1/var/lib/apt/lists" "$1/var/cache/apt/archives"' \
		--setup-hook="$lists" \
		--setup-hook='for d in /var/cache/apt/archives ${SP_IMAGE_DEBS:-}; do
			find "$d" -maxdepth 1 -name "*.deb" -exec cp -l -f -t "$1/var/cache/apt/archives" {} + 2>/dev/null || true
		done' \
		--extract-hook="sh '$self' --extract-hook \"\$1\"" \
		"$suite" "$root" "$list"
}
pkgs="$*"
if ! bootstrap lists; then
	echo "image-rootfs: retrying with the package lists fetched anew" >&2
	bootstrap update
fi

cd "$root"
# What the container runtime provides (devices, name service files) or
# what serves only a package manager, which the image has not.
rm -rf dev etc/resolv.conf etc/hostname etc/apt var/lib/apt var/cache/apt var/log/*
mkdir -m 0755 dev
rm -f etc/dpkg/dpkg.cfg.d/99mmdebstrap etc/fstab
# No manuals, translations, shell completions or lintian overrides; of the
# documentation only the copyright files, which go with the binaries.
find usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete 2>/dev/null || true
find usr/share/doc -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf usr/share/man usr/share/info usr/share/locale usr/share/lintian \
	usr/share/bash-completion usr/share/pixmaps
# glibc's iconv character sets (8 MB): spanprobe converts no charset.
find usr/lib -maxdepth 2 -type d -name gconv -exec rm -rf {} +
# The CA bundle ca-certificates' own script would write: every CA it ships.
if [ -d usr/share/ca-certificates ]; then
	mkdir -p etc/ssl/certs
	find usr/share/ca-certificates -name '*.crt' | LC_ALL=C sort | xargs cat >etc/ssl/certs/ca-certificates.crt
fi
