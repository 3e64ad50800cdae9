# Shell functions shared by the kernel matrix scripts (sourced, not run;
# KERNELS_DIR names this folder when the sourcing script lives elsewhere).
# Where things live: $KERNELS_CACHE/<package>/ holds the unpacked package
# (boot/vmlinuz-*, lib/modules/*) and the initramfs built from it.

KERNELS_DIR=${KERNELS_DIR:-$(cd "$(dirname "$0")" && pwd)}
REPO=$(cd "$KERNELS_DIR/../.." && pwd)
KERNELS_CACHE=${SP_KERNELS_CACHE:-$REPO/${SP_BUILD:-build}/kernels}

# kernels_patterns: the package regexes, from SP_KERNELS or kernels.list.
kernels_patterns() {
	if [ -n "${SP_KERNELS:-}" ]; then
		printf '%s\n' $SP_KERNELS
	else
		sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$KERNELS_DIR/kernels.list"
	fi
}

# kernels_resolve REGEX: the newest package apt knows whose whole name
# matches the extended regular expression, or an already unpacked one in
# the cache when apt knows none (offline runs); nothing when neither exists.
kernels_resolve() {
	found=$(apt-cache pkgnames linux-image- 2>/dev/null | grep -E -x -- "$1" | sort -V | tail -n 1)
	if [ -z "$found" ] && [ -d "$KERNELS_CACHE" ]; then
		found=$(ls "$KERNELS_CACHE" | grep -E -x -- "$1" | while read -r name; do
			[ -f "$KERNELS_CACHE/$name/.unpacked" ] && echo "$name"
		done | sort -V | tail -n 1)
	fi
	echo "$found"
}

# kernels_short PACKAGE: the label of a kernel in reports ("6.1.0-57",
# "6.12.117"): the release without the flavour.
kernels_short() {
	echo "$1" | sed -e 's/^linux-image-//' -e 's/-unsigned$//' -e 's/-amd64$//' -e 's/+deb[0-9]*$//'
}
