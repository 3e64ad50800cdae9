#!/bin/sh
# Installs the Debian packages spanprobe's build, run and tests need, when
# they are missing.  Safe to run again: it installs nothing when all are here.
# `deps.sh --build` installs only what `make` needs to build build/spanprobe
# (the build stage of deploy/Containerfile).
set -eu

# What `make` needs for build/spanprobe.
BUILD_PACKAGES="make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
 libprotobuf-c-dev protobuf-c-compiler libnghttp2-dev libssl-dev pkg-config libdeflate-dev
 libisal-dev libyaml-dev libjson-c-dev"

# The tests, benchmarks and `make image` (mmdebstrap, buildah) too.
PACKAGES="$BUILD_PACKAGES
 libcmocka-dev python3 python3-h2 python3-grpcio python3-yaml curl openssl nginx-light nghttp2-client wrk iptables
 libclang-rt-14-dev libgcc-12-dev
 qemu-system-x86 busybox-static cpio xz-utils binutils golang-go prometheus
 mmdebstrap buildah
 redis-server redis-tools python3-redis
 mariadb-server mariadb-client python3-pymysql libmariadb-dev
 postgresql postgresql-client python3-psycopg2"

build_only=false
if [ "${1:-}" = --build ]; then
	build_only=true
	PACKAGES=$BUILD_PACKAGES
fi

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done

# Node.js may come from another packaging that bundles npm: accept the commands.
if ! $build_only; then
	command -v node >/dev/null 2>&1 || missing="$missing nodejs"
	command -v npm >/dev/null 2>&1 || missing="$missing npm"
	# kubectl renders deploy/k8s (kubectl kustomize); any packaging of it will do.
	command -v kubectl >/dev/null 2>&1 || missing="$missing kubernetes-client"
fi

if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing packages:$missing; run this as root (or install them) first" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

$build_only && exit 0

# The OTLP decoder of the interop tests (npm registry; versions from the lockfile).
[ -d "$(dirname "$0")/../tests/otlp-node/node_modules" ] || (cd "$(dirname "$0")/../tests/otlp-node" && npm ci --no-audit --no-fund --loglevel=error)

# The kernel matrix (tests/kernels/) boots Debian's kernels under QEMU: their
# packages are fetched into the build tree when missing, never installed.
# SP_KERNEL_MATRIX=0 skips the matrix and this download.
if [ "${SP_KERNEL_MATRIX:-1}" != 0 ]; then
	"$(dirname "$0")/../tests/kernels/fetch.sh" ||
		echo "deps: some kernel packages are missing; the kernel matrix will fail for them" >&2
fi
