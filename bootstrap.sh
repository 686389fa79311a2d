#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The two commands of the README, on a fresh Debian 12 machine:
#   ./bootstrap.sh demo    install what is missing (as root), build, run fulcrum
#                          in the foreground on 127.0.0.1:8080 before two demo backends
#   ./bootstrap.sh check   the same build, then every unit and integration test
#   ./bootstrap.sh build   just the build
#   ./bootstrap.sh deb     the build, then the Debian package (make check-deb:
#                          deb/fulcrum_<version>_<arch>.deb, lintian, its checks)
# CONFIGURE_FLAGS is passed to ./configure (for example --enable-sanitizers).
set -euo pipefail
cd "$(dirname "$0")"

BUILD_DEPS="autoconf automake make gcc pkg-config libconfig-dev libssl-dev libjemalloc-dev libcriterion-dev python3"
TEST_DEPS="python3 python3-websockets python3-prometheus-client curl openssl apache2 iproute2 procps wrk valgrind keepalived bird2 haproxy nginx man-db systemd"
# For "make deb" (dpkg-buildpackage, debian/control's Build-Depends) and
# its check: installed when run as root, not required otherwise.
DEB_DEPS="dpkg-dev debhelper fakeroot lintian"

install_deps() {
	local missing=() p wanted="$BUILD_DEPS $TEST_DEPS"
	[ "$(id -u)" -ne 0 ] || wanted="$wanted $DEB_DEPS"
	for p in $wanted; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]}" >&2
		echo "run as root, or: sudo apt-get install ${missing[*]}" >&2
		exit 1
	fi
	echo "installing: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# Debian starts apache2 on port 80 when it is installed; the tests run their own.
	if command -v apache2ctl >/dev/null && [ -f /run/apache2/apache2.pid ]; then
		apache2ctl -k stop >/dev/null 2>&1 || true
	fi
	# The same for haproxy and nginx (t/integ/proxy_protocol.py runs its own).
	local unit
	for unit in haproxy nginx; do
		if command -v systemctl >/dev/null && systemctl is-active -q "$unit" 2>/dev/null; then
			systemctl stop "$unit" >/dev/null 2>&1 || true
		fi
	done
}

build() {
	install_deps
	[ -x configure ] || autoreconf -fi
	if [ ! -f Makefile ] || [ "${CONFIGURE_FLAGS:-}" != "$(cat .configure-flags 2>/dev/null)" ]; then
		# shellcheck disable=SC2086
		./configure -q ${CONFIGURE_FLAGS:-}
		printf '%s' "${CONFIGURE_FLAGS:-}" > .configure-flags
	fi
	make -s -j"$(nproc)"
}

# Ctrl-C, TERM or the end of the demo: fulcrum first (its master stops its
# workers and checker), then the backends, each by its pid, and every one
# waited for, so none is left running or defunct.
DEMO_PIDS=()
DEMO_FULCRUM=
demo_stop() {
	trap - EXIT INT TERM
	if [ -n "$DEMO_FULCRUM" ]; then
		kill -TERM "$DEMO_FULCRUM" 2>/dev/null || true
		wait "$DEMO_FULCRUM" 2>/dev/null || true
	fi
	if [ ${#DEMO_PIDS[@]} -gt 0 ]; then
		kill -TERM "${DEMO_PIDS[@]}" 2>/dev/null || true
		wait "${DEMO_PIDS[@]}" 2>/dev/null || true
	fi
}

demo() {
	build
	make -s t/fc-testbackend
	trap demo_stop EXIT
	trap 'demo_stop; exit 130' INT
	trap 'demo_stop; exit 143' TERM
	t/fc-testbackend -l 127.0.0.1:8081 -n web1 & DEMO_PIDS+=($!)
	t/fc-testbackend -l 127.0.0.1:8082 -n web2 & DEMO_PIDS+=($!)
	echo "demo backends: web1 pid ${DEMO_PIDS[0]}, web2 pid ${DEMO_PIDS[1]}"
	cat <<'TXT'

fulcrum runs in the foreground on http://127.0.0.1:8080/ in front of two demo
backends, web1 (127.0.0.1:8081) and web2 (127.0.0.1:8082). In another terminal:

  curl -s http://127.0.0.1:8080/               # web1 or web2: each worker runs its
                                               # own weighted roundrobin
  curl -s http://127.0.0.1:8080/echo           # the request as the backend got it
                                               # (see X-Forwarded-For)
  curl -si http://127.0.0.1:8080/chunked?n=100 # a chunked response
  curl -s -u admin:admin 'http://127.0.0.1:8080/fulcrum?stats;csv'
                                               # the stats page (open it in a browser)
  ./fulcrum-stat -f contrib/demo.conf          # the same figures from shared memory
  kill <the pid of web2>                       # web2 goes DOWN, web1 takes everything
  kill -9 <a worker pid>                       # respawned within a second

The access log appears below, one line per request. Ctrl-C stops everything.

TXT
	# In the background, waited for: the shell takes Ctrl-C at once and
	# stops it by its pid instead of hoping the signal reached it.
	./fulcrum -d -f contrib/demo.conf & DEMO_FULCRUM=$!
	wait "$DEMO_FULCRUM" || true
}

check() {
	build
	if ! make -s check; then
		for f in $(find t -name '*.log' -newer Makefile 2>/dev/null); do
			grep -qE '^(FAIL|ERROR)' "${f%.log}.trs" 2>/dev/null && { echo "=== $f"; tail -n 60 "$f"; }
		done
		exit 1
	fi
}

deb() {
	build
	make -s check-deb
}

case "${1:-}" in
demo) demo ;;
check) check ;;
build) build ;;
deb) deb ;;
*) echo "usage: $0 demo|check|build|deb" >&2; exit 2 ;;
esac
