#!/bin/sh
# Checks the Debian packages scorch needs and installs the missing ones when run as
# root (after an apt-get update); otherwise prints the exact apt-get line and fails.
#   deps.sh build   what `make` needs
#   deps.sh test    what `make check` needs on top (test tools, fixtures' subjects)
set -u
build="gcc make pkg-config libunwind-dev libdw-dev libelf-dev zlib1g-dev libiberty-dev"
test="libcmocka-dev python3 python3-pytest libxml2-utils chromium nodejs npm elfutils \
linux-perf xz-utils gzip g++ libc6-dbg austin"
case "${1:-build}" in
build) want=$build ;;
test) want="$build $test" ;;
*) echo "usage: deps.sh build|test" >&2; exit 2 ;;
esac
missing=
for p in $want; do
	# a nodejs from another source may bundle npm (and conflict with Debian's npm):
	# for these two the commands are what matter
	case $p in
	nodejs) command -v node >/dev/null 2>&1 && continue ;;
	npm) command -v npm >/dev/null 2>&1 && continue ;;
	esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
npm_tools() {
	# test tooling from npm (playwright-core, pprof-format, speedscope), pinned by the lock
	[ "${1:-build}" = test ] || return 0
	[ -d test/browser/node_modules/playwright-core ] && return 0
	(cd test/browser && npm ci --no-audit --no-fund --loglevel=error >&2) || {
		echo "cannot install the npm test tools (npm ci in test/browser)" >&2
		return 1
	}
}
if [ -z "$missing" ]; then
	npm_tools "${1:-build}"
	exit $?
fi
if [ "$(id -u)" != 0 ]; then
	echo "scorch needs these Debian packages:$missing" >&2
	echo "install them with: sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2 || exit 1
apt-get install -y -q --no-install-recommends $missing >&2 || exit 1
npm_tools "${1:-build}"
