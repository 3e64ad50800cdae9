#!/bin/sh
# Downloads and unpacks the kernel packages of the kernel matrix into the
# build tree ($SP_BUILD/kernels/<package>/, default build/kernels), with
# `apt-get download` and `dpkg-deb -x`: nothing is installed on the host
# and /boot is not touched.  A package already unpacked is not fetched
# again.  A pattern no package matches, or a download that fails, is
# reported here and again as a failed check when the matrix runs.
set -u
. "$(dirname "$0")/common.sh"

status=0
mkdir -p "$KERNELS_CACHE"
for pattern in $(kernels_patterns); do
	pkg=$(kernels_resolve "$pattern")
	# apt's package lists may be missing or old on a fresh machine.
	if [ -z "$pkg" ] && [ -z "${updated:-}" ] && [ "$(id -u)" = 0 ]; then
		apt-get update -qq >/dev/null 2>&1
		updated=1
		pkg=$(kernels_resolve "$pattern")
	fi
	if [ -z "$pkg" ]; then
		echo "kernels: no package matches $pattern (apt-get update?)" >&2
		status=1
		continue
	fi
	dest=$KERNELS_CACHE/$pkg
	[ -f "$dest/.unpacked" ] && continue
	echo "kernels: fetching $pkg"
	rm -rf "$dest"
	mkdir -p "$dest/deb"
	if ! (cd "$dest/deb" && apt-get download -qq -o APT::Sandbox::User=root "$pkg") ||
		! dpkg-deb -x "$dest"/deb/*.deb "$dest"; then
		echo "kernels: could not fetch $pkg" >&2
		rm -rf "$dest"
		status=1
		continue
	fi
	rm -rf "$dest/deb"
	touch "$dest/.unpacked"
done
exit $status
