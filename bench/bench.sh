#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# fulcrum's benchmark: fulcrum against HAProxy and nginx on loopback, with the
# same backends, the same worker count and equivalent configurations.
#
#   bench/bench.sh            run the matrix, print the summary (default ~31 min,
#                             of which ~5 for the TLS rows; TLS=0 leaves them out)
#   bench/bench.sh profile    strace -c and perf record of the keep-alive 100 B
#                             path, fulcrum and HAProxy (see profile_main below)
#   make bench                the same as the first, with this build's fulcrum
#
# What it measures, per row (scenario x file size) and target:
#   requests/s, p50 and p99 latency (wrk), and the proxy's CPU time per
#   request: utime+stime of every process of the proxy (master, workers,
#   checker) over the run, divided by the requests wrk completed.  On two
#   cores the load generator and the backends compete with the proxy, so
#   requests/s mostly measures them: the CPU per request is the figure that
#   compares proxies.  Targets run interleaved, the order rotating every
#   round (A B C, B C A, ...), because the machine is shared and noisy;
#   the summary gives medians over rounds and the median of the per-round
#   ratios to HAProxy.  Then: resident memory per idle client connection
#   (RSS slope between IDLE_N1 and IDLE_N2 idle connections, fresh
#   instances), and HOLD_N idle connections held by fulcrum and HAProxy.
#
# Knobs (environment):
#   MODE=pin|float   pin (default): proxies on cpu1, wrk and backends on cpu0,
#                    1 worker.  float: no pinning, one worker per core.
#   WORKERS=N        workers (fulcrum, nginx) / threads (HAProxy)
#   ROUNDS=5 DURATION=6 WARMUP=2 CONNS=50 THREADS=1 (wrk -t)
#   QUICK=1          ~2.5 min: 2 rounds of 2 s, small idle test, no hold test
#   MATRIX="scenario:file:target,target ..."  scenario ka (keep-alive
#                    clients), up (keep-alive clients POSTing the file to
#                    /upload, which the backends read and discard) or
#                    close (Connection: close, a new TCP
#                    connection per request), or over TLS: tls_ka (wrk,
#                    https:// URLs, keep-alive), tls_close (a new connection
#                    and a full handshake per request) and tls_resume (a new
#                    connection per request, resuming the first session):
#                    both with bench/tlsload.c, built here, since wrk's
#                    reconnections resume; own_ka and own_up: ka and up
#                    with tlsload -m ka instead of wrk, a client that
#                    reads 256 KiB at a time (wrk: 8 KiB, and it parses
#                    every body byte), so that on the 1 MiB rows the
#                    client is not the limit; scenario@N: N clients for
#                    that row instead of CONNS (ka@1000); file 100b,
#                    10k or 1m (1 MiB); targets
#                    direct haproxy haproxy_close nginx nginx_close fulcrum
#                    fulcrum_close fulcrum_base fulcrum_base_close
#                    fulcrum_lc (fulcrum with leastconn), and for
#                    the tls_* rows haproxy_tls nginx_tls fulcrum_tls
#                    fulcrum_base_tls (keep-alive configurations plus TLS
#                    on the client side; backends plain HTTP)
#   MANY=1|0         1 (default): the many-connection rows of issue 19:
#                    keep-alive 100 B at 200, 1,000 and HUGE_CONNS
#                    clients, a 1 MiB download and a 1 MiB upload, with
#                    wrk and again with the bench's own client (own_*)
#   HUGE_CONNS=10000 the largest row's clients; lowered to what the
#                    open-files limit allows (the proxies need two
#                    descriptors per client), with a note in the log
#   TLS=1|0|only     1 (default): the matrix has the three TLS 100 B rows
#                    (~5 min more); 0: none; only: the TLS rows alone,
#                    keep-alive 10 KiB over TLS too, no memory tests
#   TLS_CERT=ec|rsa  the proxies' certificate: ECDSA P-256 (default) or
#                    RSA-2048, made with openssl req into OUTDIR/tls/
#   TLS_CLIENT=1.3|1.2  the clients' protocol version (default 1.3)
#   SSL_LIBDIR=dir   the three proxies run on the libssl.so.3 and
#                    libcrypto.so.3 in dir (LD_LIBRARY_PATH), say a later
#                    OpenSSL 3.x built there, which keeps 3.0's ABI: the
#                    same library for all three; the clients, the backends
#                    and the certificates keep the system's.  The run
#                    checks that each proxy mapped it
#   FULCRUM=path     the binary under test (default: ../fulcrum from here)
#   FULCRUM_BASE=path a second fulcrum binary (say, before a change): its
#                    targets fulcrum_base[_close] join every fulcrum row, so
#                    a change is measured before/after in the same run
#   FULCRUM_ALT="name=path ..." more fulcrum binaries, each a target
#                    fulcrum_<name>[_close] joining every fulcrum row (say,
#                    one per optimisation step, all in the same run)
#   BUSY_POLL_US=N   fulcrum with global.busy_poll_us = N (the same binary)
#                    joins every fulcrum row as fulcrum_busy[_close]
#   BALANCE=roundrobin|leastconn  the three proxies' balancing, alike
#                    (HAProxy balance, nginx least_conn, fulcrum balance)
#   COOKIE=auto|0|1  the cookie group in fulcrum's config; auto turns it on
#                    only if this fulcrum implements it (no warning at start)
#   ACCESSLOG=0|1    fulcrum and HAProxy log every request (to /dev/null)
#   QUEUES=0|1       1: during the recorded rounds of the ka and up rows,
#                    bench/queues.py samples the sockets' queues (ss, every
#                    50 ms, on the client's core): where the bytes wait,
#                    in queues.tsv and the summary.  A diagnostic: ss
#                    takes CPU from the client's core, so the figures of
#                    such a run are not the ones to compare
#   BACKENDS_NETNS=0|1  1 (root): the backends run in a network namespace
#                    of their own, behind a veth pair (198.51.100.1-2,
#                    TEST-NET-2), with RPS steering each side's receive
#                    processing to the receiver's cores (pin mode).  On
#                    loopback a sender runs the receiver's TCP receive
#                    path in its own context, so a proxy that reads fast
#                    makes the backends pay for its receiving (the 1 MiB
#                    rows' "be"); behind the veth the receiver's core
#                    pays, as on a network.  The client side stays on
#                    loopback; QUEUES=1 then sees no backend sockets
#   IDLE_TEST=1 IDLE_N1=1000 IDLE_N2=5000   memory per idle connection
#   HOLD_TEST=1 HOLD_N=10000                idle connections held
#   BASE_PORT=21400 OUTDIR=... KEEP_TMP=0
#   tlscount (bench.sh tlscount): user-space instructions per full and per
#            resumed TLS handshake for the three proxies under callgrind,
#            TLS_CERT's certificate, CG_SECONDS=8 of tlsload -c4 each
#   profile: PROFILE_SECONDS=10 PROFILE_CONNS=50 PROFILE_FILE=100b|10k PROFILE_ROWS="ka close"
#            PROFILE_RATE (wrk2 absent:
#            plain wrk, closed loop) PERF=1
#
# Everything it starts is tracked by PID and killed on exit (TERM, then KILL),
# Ctrl-C included.  Traffic goes to 127.0.0.1 only (and with BACKENDS_NETNS=1
# to the namespace it made).
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
CMD=${1:-run}

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
	: "${ROUNDS:=2}" "${DURATION:=2}" "${WARMUP:=1}" "${IDLE_N1:=300}" "${IDLE_N2:=1300}" "${HOLD_TEST:=0}"
fi
NPROC=$(nproc)
MODE=${MODE:-pin}
if [ "$MODE" = pin ]; then
	LOAD_CPUS=${LOAD_CPUS:-0}
	PROXY_CPUS=${PROXY_CPUS:-$((NPROC - 1))}
	WORKERS=${WORKERS:-1}
else
	LOAD_CPUS=${LOAD_CPUS:-}
	PROXY_CPUS=${PROXY_CPUS:-}
	WORKERS=${WORKERS:-$NPROC}
fi
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-6}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-50}
THREADS=${THREADS:-1}
FULCRUM=${FULCRUM:-$HERE/../fulcrum}
FULCRUM_BASE=${FULCRUM_BASE:-}
COOKIE=${COOKIE:-auto}
ACCESSLOG=${ACCESSLOG:-0}
IDLE_TEST=${IDLE_TEST:-1}
QUEUES=${QUEUES:-0}
IDLE_N1=${IDLE_N1:-1000}
IDLE_N2=${IDLE_N2:-5000}
HOLD_TEST=${HOLD_TEST:-1}
HOLD_N=${HOLD_N:-10000}
BASE_PORT=${BASE_PORT:-21400}
KEEP_TMP=${KEEP_TMP:-0}
HAPROXY=${HAPROXY:-haproxy}
NGINX=${NGINX:-nginx}
WRK=${WRK:-wrk}
TLS=${TLS:-1}
TLS_CERT=${TLS_CERT:-ec}
TLS_CLIENT=${TLS_CLIENT:-1.3}
SSL_LIBDIR=${SSL_LIBDIR:-}
TLS_TARGETS=fulcrum_tls,haproxy_tls,nginx_tls
if [ -z "${MATRIX:-}" ]; then
	if [ "$TLS" != only ]; then
		MATRIX="ka:100b:direct,fulcrum,haproxy,nginx ka:10k:direct,fulcrum,haproxy,nginx"
		MATRIX="$MATRIX close:100b:direct,fulcrum_close,haproxy_close,nginx_close"
		MATRIX="$MATRIX close:10k:direct,fulcrum_close,haproxy_close,nginx_close"
		[ "${MANY:-1}" = 1 ] && MATRIX="$MATRIX ka@200:100b:fulcrum,haproxy,nginx
			ka@1000:100b:fulcrum,haproxy,nginx ka@HUGE:100b:fulcrum,haproxy,nginx
			ka:1m:direct,fulcrum,haproxy,nginx up:1m:direct,fulcrum,haproxy,nginx
			own_ka:1m:direct,fulcrum,haproxy,nginx own_up:1m:direct,fulcrum,haproxy,nginx"
	fi
	[ "$TLS" = 0 ] || MATRIX="${MATRIX:-} tls_ka:100b:$TLS_TARGETS"
	[ "$TLS" = only ] && MATRIX="$MATRIX tls_ka:10k:$TLS_TARGETS"
	[ "$TLS" = 0 ] || MATRIX="$MATRIX tls_close:100b:$TLS_TARGETS tls_resume:100b:$TLS_TARGETS"
fi
case $TLS_CERT in ec | rsa) ;; *) echo "TLS_CERT=ec or rsa" >&2; exit 2 ;; esac
case $TLS_CLIENT in 1.3 | 1.2) ;; *) echo "TLS_CLIENT=1.3 or 1.2" >&2; exit 2 ;; esac
if [ -n "$SSL_LIBDIR" ] && ! [ -f "$SSL_LIBDIR/libssl.so.3" -a -f "$SSL_LIBDIR/libcrypto.so.3" ]; then
	echo "SSL_LIBDIR=$SSL_LIBDIR: no libssl.so.3 and libcrypto.so.3 there" >&2
	exit 2
fi
OUTDIR=${OUTDIR:-/tmp/fulcrum-bench/$(date +%Y%m%d-%H%M%S)-$CMD-$MODE-w$WORKERS}

# What the benchmark needs beyond the build (not part of `make check`).
BENCH_DEPS="haproxy nginx wrk curl python3 util-linux procps iproute2"
PROFILE_DEPS="strace linux-perf"
TLS_DEPS="openssl libssl-dev gcc"	# the certificates, bench/tlsload.c

log() { echo "[$(date +%T)] $*" | tee -a "$OUTDIR/log.txt" >&2; }
die() { log "$*"; exit 1; }

install_deps() {
	local missing=() p
	command -v dpkg-query >/dev/null || return 0
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "bench: missing packages: ${missing[*]} (run as root, or apt-get install them)" >&2
		exit 1
	fi
	echo "bench: installing ${missing[*]}" >&2
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		{ echo "bench: apt-get install failed" >&2; exit 1; }
	# Debian starts nginx and haproxy as services when installed: not ours, not wanted.
	for p in nginx haproxy; do
		if command -v systemctl >/dev/null && systemctl is-active -q "$p" 2>/dev/null; then
			systemctl stop "$p" >/dev/null 2>&1
		elif command -v service >/dev/null; then
			service "$p" stop >/dev/null 2>&1
		fi
	done
	return 0
}

mkdir -p "$OUTDIR"
install_deps $BENCH_DEPS
[[ " $MATRIX" == *" tls_"* || " $MATRIX" == *" own_"* ]] && install_deps $TLS_DEPS
[ "$CMD" = profile ] && install_deps $PROFILE_DEPS
[ -x "$FULCRUM" ] || die "no fulcrum binary at $FULCRUM (build first, or set FULCRUM)"
FULCRUM=$(cd "$(dirname "$FULCRUM")" && pwd)/$(basename "$FULCRUM")
[ -z "$FULCRUM_BASE" ] || [ -x "$FULCRUM_BASE" ] || die "FULCRUM_BASE=$FULCRUM_BASE is not executable"
# Room for HOLD_N idle connections on both sides of loopback.  HAProxy
# refuses a maxconn whose two fds per connection exceed the limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
HAP_MAXCONN=$(((NOFILE - 200) / 2))
[ $HAP_MAXCONN -gt 40000 ] && HAP_MAXCONN=40000
# ka@HUGE: each proxy holds a client and a server connection per client
HUGE_CONNS=${HUGE_CONNS:-10000}
if [ "$HUGE_CONNS" -gt $((HAP_MAXCONN - 100)) ]; then
	log "open-files limit $NOFILE (hard $(ulimit -Hn)): the largest row has $((HAP_MAXCONN - 100)) clients, not $HUGE_CONNS"
	HUGE_CONNS=$((HAP_MAXCONN - 100))
fi
MATRIX=${MATRIX//ka@HUGE:/ka@$HUGE_CONNS:}

TMP=$(mktemp -d /tmp/fulcrum-bench-run.XXXXXX)
chmod 755 "$TMP"

B1=$((BASE_PORT + 1)); B2=$((BASE_PORT + 2))
BACKENDS_NETNS=${BACKENDS_NETNS:-0}
BALANCE=${BALANCE:-roundrobin}
case $BALANCE in roundrobin | leastconn) ;; *) echo "BALANCE=roundrobin or leastconn" >&2; exit 2 ;; esac
BADDR=127.0.0.1			# the backends' address
NETNS=""
IN_NS=()			# the command prefix that runs in the backends' namespace
declare -A PORT=([direct]=$B1 [haproxy]=$((BASE_PORT + 11)) [haproxy_close]=$((BASE_PORT + 12))
	[haproxy_tls]=$((BASE_PORT + 13))
	[nginx]=$((BASE_PORT + 21)) [nginx_close]=$((BASE_PORT + 22)) [nginx_tls]=$((BASE_PORT + 23))
	[fulcrum]=$((BASE_PORT + 31)) [fulcrum_close]=$((BASE_PORT + 32)) [fulcrum_tls]=$((BASE_PORT + 33))
	[fulcrum_base]=$((BASE_PORT + 41)) [fulcrum_base_close]=$((BASE_PORT + 42))
	[fulcrum_base_tls]=$((BASE_PORT + 43)) [fulcrum_lc]=$((BASE_PORT + 44)))
declare -A PID=() BIN=() TREE=()
STARTED=()
FULCRUM_ALT=${FULCRUM_ALT:-}
BUSY_POLL_US=${BUSY_POLL_US:-0}
# the same binary with busy polling on: one more alternative target
[ "$BUSY_POLL_US" -gt 0 ] && FULCRUM_ALT="$FULCRUM_ALT busy=$FULCRUM"
ALT_NAMES=()
i=0
for alt in $FULCRUM_ALT; do
	name=${alt%%=*}
	BIN[fulcrum_$name]=${alt#*=}
	BIN[fulcrum_${name}_close]=${alt#*=}
	BIN[fulcrum_${name}_tls]=${alt#*=}
	PORT[fulcrum_$name]=$((BASE_PORT + 51 + 3 * i))
	PORT[fulcrum_${name}_close]=$((BASE_PORT + 52 + 3 * i))
	PORT[fulcrum_${name}_tls]=$((BASE_PORT + 53 + 3 * i))
	ALT_NAMES+=("$name")
	i=$((i + 1))
done

# ------------------------------------------------------------ process control
children_of() { ps -e -o pid=,ppid= | awk -v p="$1" '$2 == p { print $1 }'; }
tree_of() {			# a pid and all its descendants
	local p=$1 c
	echo "$p"
	for c in $(children_of "$p"); do tree_of "$c"; done
}
# The process that serves an instance's requests: fulcrum's first worker,
# nginx's worker, HAProxy's only process (valgrind in front changes none).
serving_pid() {			# instance
	local p
	for p in $(tree_of "${PID[$1]}"); do
		case $1 in
		fulcrum*) grep -q 'fulcrum-w0' "/proc/$p/comm" 2>/dev/null && { echo "$p"; return; } ;;
		nginx*) [ "$p" != "${PID[$1]}" ] && { echo "$p"; return; } ;;
		*) echo "$p"; return ;;
		esac
	done
}
cg_total() {			# callgrind dump: the instructions it counted
	# printf: mawk prints a number above 2^31 as 2.2e+09, which $(( )) refuses
	cat "$@" 2>/dev/null | awk '/^(summary|totals):/ { s = $2 } END { printf "%.0f\n", s }'
}
kill_tree() {			# TERM the roots, wait 5 s, KILL what is left
	local all=() p i alive
	for p in "$@"; do [ -d "/proc/$p" ] && all+=($(tree_of "$p")); done
	for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
	for i in $(seq 50); do
		alive=0
		for p in "${all[@]}"; do [ -d "/proc/$p" ] && alive=1; done
		[ $alive = 0 ] && return 0
		sleep 0.1
	done
	for p in "${all[@]}"; do [ -d "/proc/$p" ] && kill -KILL "$p" 2>/dev/null; done
	return 0
}
cleanup() {
	[ ${#STARTED[@]} -gt 0 ] && kill_tree "${STARTED[@]}"
	wait 2>/dev/null
	[ -n "$NETNS" ] && ip netns del "$NETNS" 2>/dev/null
	[ "$KEEP_TMP" = 1 ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pin() { [ -n "$1" ] && echo "taskset -c $1"; }
port_busy() {			# port [command prefix: the namespace to look in]
	local p=$1
	shift
	"$@" ss -ltnH "( sport = :$p )" 2>/dev/null | grep -q .
}
wait_port() {			# port [command prefix, as port_busy]; WAIT_TRIES x 0.1 s
	local i
	for i in $(seq "${WAIT_TRIES:-100}"); do port_busy "$@" && return 0; sleep 0.1; done
	log "port $1 never came up"
	return 1
}
host_of() { [ "$1" = direct ] && echo "$BADDR" || echo 127.0.0.1; }
cpu_mask() { [[ $1 =~ ^[0-9]+$ ]] && printf '%x' $((1 << $1)); }	# one cpu number, else none
# BACKENDS_NETNS=1: the backends' namespace, a veth pair, RPS on both ends.
netns_make() {
	local root=fcb$$ mask
	[ "$(id -u)" -eq 0 ] || die "BACKENDS_NETNS=1 needs root"
	NETNS=fulcrum-bench-$$
	ip netns add "$NETNS" || die "ip netns add failed"
	ip link add "$root" type veth peer name eth0 netns "$NETNS" &&
		ip addr add 198.51.100.1/30 dev "$root" && ip link set "$root" up &&
		ip -n "$NETNS" addr add 198.51.100.2/30 dev eth0 &&
		ip -n "$NETNS" link set eth0 up && ip -n "$NETNS" link set lo up ||
		die "cannot make the backends' veth pair"
	IN_NS=(ip netns exec "$NETNS")
	BADDR=198.51.100.2
	# pin mode: what the proxies receive is processed on their core, what
	# the backends (and the direct client) receive on the load core (the
	# first cpu of each list; none when a list is empty or a range)
	mask=$(cpu_mask "${PROXY_CPUS%%,*}")
	[ -n "$mask" ] && echo "$mask" >"/sys/class/net/$root/queues/rx-0/rps_cpus"
	mask=$(cpu_mask "${LOAD_CPUS%%,*}")
	[ -n "$mask" ] && "${IN_NS[@]}" sh -c "echo $mask >/sys/class/net/eth0/queues/rx-0/rps_cpus"
	log "backends in namespace $NETNS at $BADDR (veth $root, RPS: proxies' side ${PROXY_CPUS:-off}, backends' side ${LOAD_CPUS:-off})"
}
[ "$BACKENDS_NETNS" = 1 ] && netns_make
start_bg() {			# name cpus cmd...  (WRAP: a command prefix, say valgrind)
	local name=$1 cpus=$2
	shift 2
	$(pin "$cpus") ${WRAP:-} "$@" >"$TMP/$name.out" 2>&1 &
	PID[$name]=$!
	STARTED+=($!)
}
stop_inst() { kill_tree "${PID[$1]}"; }

# ------------------------------------------------------------ content, configs
mkdir -p "$TMP/www"
head -c 100 /dev/zero | tr '\0' 'a' >"$TMP/www/100b"
head -c 10240 /dev/zero | tr '\0' 'b' >"$TMP/www/10k"
head -c 1048576 /dev/zero | tr '\0' 'c' >"$TMP/www/1m"
# wrk -s: every request a POST of the file named by BODY to /upload
cat >"$TMP/upload.lua" <<'EOF'
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.path = "/upload"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = "application/octet-stream"
f:close()
EOF

# TLS on the client side, the same for the three proxies: fulcrum's defaults
# (TLS 1.2 and 1.3, these ciphers, server preference, session tickets on).
TLS12_CIPHERS="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"
TLS12_CIPHERS="$TLS12_CIPHERS:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
TLS13_SUITES="TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
TLS_PEM=$OUTDIR/tls/$TLS_CERT.pem

# One self-signed certificate (then its key) in OUTDIR/tls/, for all three.
tls_cert_make() {
	local d=$OUTDIR/tls key
	mkdir -p "$d"
	[ -s "$TLS_PEM" ] && return 0
	key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
	[ "$TLS_CERT" = rsa ] && key=(-newkey rsa:2048)
	openssl req -x509 "${key[@]}" -nodes -days 30 -subj /CN=bench.test \
		-addext subjectAltName=DNS:bench.test -keyout "$d/$TLS_CERT.key" -out "$d/$TLS_CERT.crt" \
		>/dev/null 2>&1 || die "openssl req failed"
	cat "$d/$TLS_CERT.crt" "$d/$TLS_CERT.key" >"$TLS_PEM"
	chmod 600 "$TLS_PEM" "$d/$TLS_CERT.key"
}

# The client of the handshake rows (see its opening comment).
tlsload_build() {
	[ -x "$TMP/tlsload" ] && return 0
	cc -O2 -Wall -o "$TMP/tlsload" "$HERE/tlsload.c" -lssl -lcrypto || die "cannot build bench/tlsload.c"
}

nginx_common() {		# dir [client keep-alive timeout]
	mkdir -p "$1/tmp"
	cat <<EOF
user root;
daemon off;
master_process on;
pid $1/nginx.pid;
error_log $1/error.log warn;
worker_rlimit_nofile 40000;
events { worker_connections 20000; }
http {
  access_log off;
  default_type text/plain;
  client_body_temp_path $1/tmp/body; proxy_temp_path $1/tmp/proxy; fastcgi_temp_path $1/tmp/fcgi;
  uwsgi_temp_path $1/tmp/uwsgi; scgi_temp_path $1/tmp/scgi;
  keepalive_requests 10000000; keepalive_timeout ${2:-120s};
  client_max_body_size 8m;
EOF
}

backend_cfg() {		# n
	local d=$TMP/backend$1
	mkdir -p "$d"
	{
		echo "worker_processes 1;"
		nginx_common "$d"
		cat <<EOF
  sendfile on; tcp_nopush on; tcp_nodelay on;
  open_file_cache max=100 inactive=600s; open_file_cache_valid 600s;
  # /upload reads the whole body, then answers (100 B, from itself), as an
  # application does: nginx's "return" answers at once and discards the
  # body afterwards, and a proxy may close a connection whose request is
  # still coming in after its response is out.
  upstream self { server $BADDR:$((BASE_PORT + $1)); keepalive 16; }
  server { listen $BADDR:$((BASE_PORT + $1)) backlog=4096; root $TMP/www;
           location / { add_header X-Backend b$1; }
           location = /upload { client_body_buffer_size 2m; proxy_pass http://self/100b;
                                proxy_method GET; proxy_pass_request_body off;
                                proxy_set_header Content-Length ""; proxy_http_version 1.1;
                                proxy_set_header Connection ""; } }
}
EOF
	} >"$d/nginx.conf"
}

hap_cfg() {			# port close(0/1) [tls(0/1) dir]
	local bind="bind 127.0.0.1:$1"
	cat <<EOF
global
  nbthread $WORKERS
  maxconn $HAP_MAXCONN
EOF
	if [ "${3:-0}" = 1 ]; then
		# tickets are on by default (no-tls-tickets turns them off); the
		# stats socket shows SslFrontendSessionReuse_pct (show info)
		cat <<EOF
  ssl-default-bind-ciphers $TLS12_CIPHERS
  ssl-default-bind-ciphersuites $TLS13_SUITES
  ssl-default-bind-options ssl-min-ver TLSv1.2
  stats socket $4/stats.sock mode 600
EOF
		bind="$bind ssl crt $TLS_PEM alpn http/1.1"
	fi
	[ "$ACCESSLOG" = 1 ] && echo "  log stdout format raw local0"
	cat <<EOF
defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-keep-alive 120s
  timeout http-request 10s
  option forwardfor
  http-reuse always
  maxconn $HAP_MAXCONN
EOF
	[ "$ACCESSLOG" = 1 ] && printf '  log global\n  option httplog\n'
	[ "$2" = 1 ] && echo "  option httpclose"
	cat <<EOF
frontend fe
  $bind
  default_backend be
backend be
  balance $BALANCE
  cookie JSESSIONID prefix nocache
  option httpchk GET /100b
  server s1 $BADDR:$B1 cookie s1 check inter 2s
  server s2 $BADDR:$B2 cookie s2 check inter 2s
EOF
}

ngx_proxy_cfg() {		# dir port keepalive(0/1) [tls(0/1)]
	local ka_up="" ka_hdr="" cli_ka="120s" ssl="" tls=""
	if [ "$3" = 1 ]; then
		ka_up="keepalive 256; keepalive_requests 10000000; keepalive_timeout 120s;"
		ka_hdr='proxy_http_version 1.1; proxy_set_header Connection "";'
	else
		cli_ka=0	# no keep-alive on either side, like httpclose
	fi
	if [ "${4:-0}" = 1 ]; then
		# no ssl_session_cache: its default "none", tickets only, as fulcrum
		ssl=" ssl"
		tls="ssl_certificate $TLS_PEM; ssl_certificate_key $TLS_PEM;
           ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers $TLS12_CIPHERS;
           ssl_conf_command Ciphersuites $TLS13_SUITES; ssl_prefer_server_ciphers on;
           ssl_session_tickets on;"
	fi
	echo "worker_processes $WORKERS;"
	nginx_common "$1" "$cli_ka"
	cat <<EOF
  upstream be { $([ "$BALANCE" = leastconn ] && echo "least_conn;") server $BADDR:$B1; server $BADDR:$B2; $ka_up }
  server { listen 127.0.0.1:$2$ssl reuseport backlog=4096; $tls
           location / { proxy_pass http://be; $ka_hdr proxy_request_buffering off;
                        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; } }
}
EOF
}

# fulcrum's configuration, from the same parameters as HAProxy's.
fulcrum_cfg() {			# port close(0/1) cookie(0/1) [busy_poll_us [tls(0/1)]]
	cat <<EOF
# generated by bench/bench.sh
global: {
	workers = $WORKERS;
	maxconn = 40000;
EOF
	[ "${4:-0}" -gt 0 ] && echo "	busy_poll_us = $4;"
	[ "$ACCESSLOG" = 1 ] && echo '	log = { facility = "local0"; };'
	cat <<EOF
};
defaults: {
	retries = 3;
	maxconn = 40000;
	timeout = { connect = 5000; client = 120000; server = 120000; http_request = 10000; };
};
listeners = ( {
	name = "bench";
	bind = [ "127.0.0.1:$1" ];
	balance = "$BALANCE";
	forwardfor = true;
	httpclose = $([ "$2" = 1 ] && echo true || echo false);
EOF
	[ "$3" = 1 ] && echo '	cookie = { name = "JSESSIONID"; mode = "prefix"; };'
	# the defaults: TLS 1.2 and 1.3, the ciphers of TLS12_CIPHERS and TLS13_SUITES
	[ "${5:-0}" = 1 ] && echo "	tls = { certs = [ \"$TLS_PEM\" ]; };"
	cat <<EOF
	check = { request = "GET /100b HTTP/1.0"; interval = 2000; };
	servers = (
		{ name = "s1"; address = "$BADDR:$B1"; cookie = "s1"; check = true; },
		{ name = "s2"; address = "$BADDR:$B2"; cookie = "s2"; check = true; }
	);
} );
EOF
}

# COOKIE=auto: on only when this fulcrum accepts the group and does not warn
# at start that cookie persistence is not implemented.
cookie_decide() {
	local d=$TMP/cookieprobe port=$((BASE_PORT + 99)) out p
	[ "$COOKIE" = auto ] || return 0
	mkdir -p "$d"
	fulcrum_cfg "$port" 0 1 >"$d/fulcrum.conf"
	if ! out=$("$FULCRUM" -c -f "$d/fulcrum.conf" 2>&1) || grep -qi "not implemented" <<<"$out"; then
		COOKIE=0
		return 0
	fi
	start_bg cookieprobe "" "$FULCRUM" -d -f "$d/fulcrum.conf"
	wait_port "$port"
	sleep 0.3
	stop_inst cookieprobe
	if grep -qi "cookie.*not implemented" "$TMP/cookieprobe.out"; then COOKIE=0; else COOKIE=1; fi
}

# launch_proxy <target> <port> <instance>: writes the config under
# $TMP/<instance>/ and starts it in the foreground (PID[<instance>]).
launch_proxy() {
	local t=$1 port=$2 inst=$3 d=$TMP/$3 close=0 tls=0 bin busy
	[ -n "$SSL_LIBDIR" ] && local -x LD_LIBRARY_PATH=$SSL_LIBDIR
	mkdir -p "$d"
	[[ $t == *_close ]] && close=1
	[[ $t == *_tls ]] && tls=1
	case $t in
	haproxy | haproxy_close | haproxy_tls)
		hap_cfg "$port" $close $tls "$d" >"$d/haproxy.cfg"
		"$HAPROXY" -c -q -f "$d/haproxy.cfg" || { log "bad haproxy config $inst"; return 1; }
		start_bg "$inst" "$PROXY_CPUS" "$HAPROXY" -db -f "$d/haproxy.cfg"
		;;
	nginx | nginx_close | nginx_tls)
		ngx_proxy_cfg "$d" "$port" $((1 - close)) $tls >"$d/nginx.conf"
		start_bg "$inst" "$PROXY_CPUS" "$NGINX" -c "$d/nginx.conf"
		;;
	fulcrum*)
		bin=$FULCRUM
		[[ $t == fulcrum_base* ]] && bin=$FULCRUM_BASE
		[ -n "${BIN[$t]:-}" ] && bin=${BIN[$t]}
		busy=0
		[[ $t == fulcrum_busy* ]] && busy=$BUSY_POLL_US
		if [ "$t" = fulcrum_lc ]; then	# leastconn whatever BALANCE says
			BALANCE=leastconn fulcrum_cfg "$port" $close "$COOKIE" $busy $tls >"$d/fulcrum.conf"
		else
			fulcrum_cfg "$port" $close "$COOKIE" $busy $tls >"$d/fulcrum.conf"
		fi
		"$bin" -c -f "$d/fulcrum.conf" >/dev/null || { log "bad fulcrum config $inst"; return 1; }
		if [ "$ACCESSLOG" = 1 ]; then
			start_bg "$inst" "$PROXY_CPUS" sh -c "exec \"$bin\" -d -f \"$d/fulcrum.conf\" 2>/dev/null"
		else
			start_bg "$inst" "$PROXY_CPUS" "$bin" -d -f "$d/fulcrum.conf"
		fi
		;;
	*) log "unknown target $t"; return 1 ;;
	esac
}

# SSL_LIBDIR: every proxy serves with the libssl found there, or the run stops.
ssl_lib_check() {		# instances...
	local t p lib
	[ -n "$SSL_LIBDIR" ] || return 0
	for t; do
		[ "$t" = direct ] && continue
		p=$(serving_pid "$t")
		lib=$(awk '$6 ~ /libssl\.so/ { print $6; exit }' "/proc/$p/maps" 2>/dev/null)
		[ "$(dirname "$lib")" -ef "$SSL_LIBDIR" ] || die "$t (pid $p) maps libssl ${lib:-none}, not SSL_LIBDIR's"
	done
	log "all proxies serve with $SSL_LIBDIR/libssl.so.3 ($(LD_LIBRARY_PATH=$SSL_LIBDIR openssl version 2>/dev/null | sed 's/.*(Library: \([^ ]* [^ ]*\).*/\1/'))"
}

# ------------------------------------------------------------ measurement helpers
sumfield() {			# field pids...: sum of a /proc/PID/status field (kB)
	local f=$1 s=0 p v
	shift
	for p; do
		v=$(awk -v f="$f:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null)
		s=$((s + ${v:-0}))
	done
	echo $s
}
proc_ticks() {			# utime+stime of the pids, in clock ticks
	local s=0 p v
	for p; do
		v=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null) && s=$((s + ${v:-0}))
	done
	echo $s
}
sys_stat() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6, $9 }' /proc/stat; }
group_pids() {
	case $1 in
	direct) echo "" ;;
	*) tree_of "${PID[$1]}" ;;
	esac
}
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us/, "", v); print v / 1000 }
		else if (v ~ /ms$/) { sub(/ms/, "", v); print v + 0 }
		else if (v ~ /s$/) { sub(/s/, "", v); print v * 1000 }
		else print "nan" }'
}

machine() {
	echo "# machine: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $NPROC cores," \
		"$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)," \
		"load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# mode=$MODE workers=$WORKERS load_cpus=${LOAD_CPUS:-all} proxy_cpus=${PROXY_CPUS:-all}" \
		"rounds=$ROUNDS duration=${DURATION}s warmup=${WARMUP}s conns=$CONNS wrk_threads=$THREADS" \
		"cookie=$COOKIE accesslog=$ACCESSLOG tls_cert=$TLS_CERT tls_client=$TLS_CLIENT backends_netns=$BACKENDS_NETNS balance=$BALANCE" \
		"proxies_ssl_lib=${SSL_LIBDIR:-system}"
	echo "# $("$FULCRUM" -v 2>&1 | head -1) | $("$HAPROXY" -v | head -1 | cut -d' ' -f1-3) |" \
		"$("$NGINX" -v 2>&1) | $("$WRK" --version 2>&1 | head -1 | cut -d' ' -f1-2)"
}

start_backends() {
	backend_cfg 1
	backend_cfg 2
	start_bg backend1 "$LOAD_CPUS" "${IN_NS[@]}" "$NGINX" -c "$TMP/backend1/nginx.conf"
	start_bg backend2 "$LOAD_CPUS" "${IN_NS[@]}" "$NGINX" -c "$TMP/backend2/nginx.conf"
	wait_port $B1 "${IN_NS[@]}" && wait_port $B2 "${IN_NS[@]}" || { cat "$TMP"/backend*.out; exit 1; }
}

# every target answers 200 with the right size
sanity() {
	local t f r want url
	for t; do
		url=http://$(host_of "$t"):${PORT[$t]}
		[[ $t == *_tls ]] && url=https://127.0.0.1:${PORT[$t]}
		for f in 100b 10k; do
			r=$(curl -sk -o /dev/null -w '%{http_code} %{size_download}' "$url/$f")
			want=$([ $f = 100b ] && echo 100 || echo 10240)
			[ "$r" = "200 $want" ] || { log "sanity FAILED $t $f: $r"; cat "$TMP/$t.out" 2>/dev/null; exit 1; }
		done
	done
}

# HAProxy's own view of its TLS handshakes (show info on its stats socket,
# rates over the last second): server-side evidence that tlsload's full
# handshakes are full and its resumptions resume.
hap_ssl_info() {		# instance
	python3 - "$TMP/$1/stats.sock" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"show info\n")
d = b""
while True:
    x = s.recv(65536)
    if not x:
        break
    d += x
info = dict(l.split(": ", 1) for l in d.decode().splitlines() if ": " in l)
print("HAProxy: SslFrontendKeyRate %s/s, SslFrontendSessionReuse_pct %s" %
      (info.get("SslFrontendKeyRate", "?"), info.get("SslFrontendSessionReuse_pct", "?")))
EOF
}

# ------------------------------------------------------------ the interleaved runs
run_one() {			# scenario[@clients] file target round record(0/1)
	local sc=${1%@*} f=$2 t=$3 r=$4 rec=$5 dur hdr=() out=$TMP/wrk.out conns=$CONNS
	[[ $1 == *@* ]] && conns=${1#*@}
	local ppids bpids p0 b0 s0 p1 b1 s1 rps p50 p99 err n2 total line resumed
	local host url v12=()
	host=$(host_of "$t")
	url=http://$host:${PORT[$t]}/$f
	dur=$([ "$rec" = 1 ] && echo "$DURATION" || echo "$WARMUP")
	[ "$sc" = close ] && hdr=(-H "Connection: close")
	[ "$sc" = up ] && hdr=(-s "$TMP/upload.lua")
	[ "$sc" = tls_ka ] && url=https://127.0.0.1:${PORT[$t]}/$f
	[ "$TLS_CLIENT" = 1.2 ] && v12=(-2)
	ppids=${TREE[$t]}
	bpids=${TREE[backends]}
	p0=$(proc_ticks $ppids); b0=$(proc_ticks $bpids); s0=$(sys_stat)
	local qpid=""
	if [ "$QUEUES" = 1 ] && [ "$rec" = 1 ] && [[ $sc == ka || $sc == up || $sc == own_* ]]; then
		( sleep 1; $(pin "$LOAD_CPUS") python3 "$HERE/queues.py" "${PORT[$t]}" "$B1,$B2" \
			$((DURATION > 3 ? DURATION - 2 : 1)) >"$TMP/queues.out" ) &
		qpid=$!
	fi
	case $sc in
	tls_close | tls_resume)		# one thread, like wrk -t1
		$(pin "$LOAD_CPUS") "$TMP/tlsload" -c"$conns" -d"$dur" "${v12[@]}" \
			-m "$([ "$sc" = tls_close ] && echo new || echo resume)" 127.0.0.1 "${PORT[$t]}" "/$f" >"$out" 2>&1
		;;
	own_ka | own_up)		# keep-alive, 256 KiB reads: a client that keeps up
		local path=/$f post=()
		[ "$sc" = own_up ] && path=/upload post=(-u "$TMP/www/$f")
		$(pin "$LOAD_CPUS") "$TMP/tlsload" -c"$conns" -d"$dur" -m ka "${post[@]}" \
			"$host" "${PORT[$t]}" "$path" >"$out" 2>&1
		;;
	*)
		BODY=$TMP/www/$f $(pin "$LOAD_CPUS") "$WRK" -t"$THREADS" -c"$conns" -d"${dur}s" \
			--timeout 10s --latency "${hdr[@]}" "$url" >"$out" 2>&1
		;;
	esac
	local rc=$? hapinfo=""
	[ "$rec" = 1 ] || return 0
	if [ -n "$qpid" ]; then
		wait "$qpid"
		echo -e "$1\t$f\t$r\t$t\t$(cat "$TMP/queues.out")" >>"$OUTDIR/queues.tsv"
	fi
	[[ $t == haproxy_tls && $sc != tls_ka ]] && hapinfo=" ($(hap_ssl_info "$t"))"
	p1=$(proc_ticks $ppids); b1=$(proc_ticks $bpids); s1=$(sys_stat)
	rps=$(awk '/^Requests\/sec/ { print $2 }' "$out")
	total=$(awk '/requests in/ { print $1 }' "$out")
	if [ $rc -ne 0 ] || [ -z "$total" ] || [ "$total" = 0 ]; then
		# wrk died (killed from outside, say): no figure rather than a false one
		log "$sc $f round $r $t: wrk failed (exit $rc), run not counted"
		return 0
	fi
	p50=$(to_ms "$(awk '/^ +50%/ { print $2 }' "$out")")
	p99=$(to_ms "$(awk '/^ +99%/ { print $2 }' "$out")")
	# "  Socket errors: connect 0, read 0, write 0, timeout 0": the numbers
	err=$(awk '/Socket errors/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i; print s + 0 }' "$out")
	# tlsload: "handshakes: N full, M resumed" (in % of all); wrk: -
	resumed=$(awk '/handshakes:/ { n = $2 + $4; printf "%.1f", n ? 100 * $4 / n : 0 }' "$out")
	n2=$(awk '/Non-2xx/ { print $NF }' "$out")
	read -r sb0 si0 st0 <<<"$s0"
	read -r sb1 si1 st1 <<<"$s1"
	line=$(awk -v sc="$1" -v f="$f" -v r="$r" -v t="$t" -v rps="${rps:-0}" -v p50="$p50" -v p99="$p99" \
		-v err="${err:-0}" -v n2="${n2:-0}" -v dp=$((p1 - p0)) -v db=$((b1 - b0)) -v tot="${total:-0}" \
		-v dur="$DURATION" -v dsb=$((sb1 - sb0)) -v dsi=$((si1 - si0)) -v dst=$((st1 - st0)) \
		-v hz="$(getconf CLK_TCK)" -v res="${resumed:--}" -v direct=$([ "$t" = direct ] && echo 1 || echo 0) 'BEGIN {
		tot = (tot > 0 ? tot : 1); all = dsb + dsi; all = (all > 0 ? all : 1)
		pc = direct ? "-" : sprintf("%.0f", 100 * dp / hz / dur)
		pu = direct ? "-" : sprintf("%.2f", 1e6 * dp / hz / tot)
		printf "%s\t%s\t%s\t%s\t%.0f\t%.3f\t%.3f\t%d\t%d\t%s\t%s\t%.1f\t%.0f\t%.1f\t%s\n",
			sc, f, r, t, rps, p50, p99, err, n2, pc, pu, 1e6 * db / hz / tot, 100 * dsb / all, 100 * dst / all,
			res }')
	echo "$line" >>"$OUTDIR/runs.tsv"
	log "$(echo "$line" | cut -f1-11)${resumed:+ resumed ${resumed}%}$hapinfo"
}

run_matrix() {
	local row sc f tl tg n r i t
	echo -e "scenario\tfile\tround\ttarget\trps\tp50_ms\tp99_ms\terrors\tnon2xx\tproxy_cpu_pct\tproxy_us_per_req\tbackend_us_per_req\tsys_busy_pct\tsteal_pct\tresumed_pct" \
		>"$OUTDIR/runs.tsv"
	[ "$QUEUES" = 1 ] && echo -e "scenario\tfile\tround\ttarget\tfront_rx\tfront_tx\tclient_rx\tclient_tx\tserver_rx\tserver_tx\tbackend_rx\tbackend_tx" \
		>"$OUTDIR/queues.tsv"
	for row in "${ROWS[@]}"; do
		IFS=: read -r sc f tl <<<"$row"
		IFS=, read -r -a tg <<<"$tl"
		n=${#tg[@]}
		for t in "${tg[@]}"; do run_one "$sc" "$f" "$t" 0 0; done	# warm-up
		for r in $(seq "$ROUNDS"); do
			for i in $(seq 0 $((n - 1))); do	# A B C, B C A, C A B ...
				t=${tg[$(((i + r - 1) % n))]}
				run_one "$sc" "$f" "$t" "$r" 1
				sleep 0.3
			done
		done
	done
}

# ------------------------------------------------------------ memory
# Fresh instances, so that pools warmed by the load do not absorb the cost.
# request mode: one GET answered, then the connection stays idle (keep-alive).
# connect mode: TCP connect only, nothing sent.
idle_tests() {
	local t mode ip inst pp base r1 r2 per kper held ok served n
	echo -e "target\tidle_mode\tconns\tfresh_rss_kb\trss_kb_at_n1\trss_kb_at_n2\tuser_bytes_per_conn\tkernel_slab_bytes_per_conn" \
		>"$OUTDIR/memory.tsv"
	echo -e "target\tconns_held\tconns_alive_after\tfresh_rss_kb\trss_kb_held\tuser_bytes_per_conn\tserved_meanwhile" \
		>"$OUTDIR/hold.tsv"
	for t in "$@"; do
		ip=$((${PORT[$t]} + 1000))
		if [ "$IDLE_TEST" = 1 ]; then
			for mode in request connect; do
				inst=${t}_idle_$mode
				port_busy $ip && { log "idle test port $ip busy, skipping $t"; continue; }
				launch_proxy "$t" "$ip" "$inst" && wait_port "$ip" || { log "idle instance $inst failed"; continue; }
				sleep 2.5	# health checks
				curl -s -o /dev/null "http://127.0.0.1:$ip/100b"
				sleep 0.3
				pp=$(tree_of "${PID[$inst]}" | tr '\n' ' ')
				read -r base r1 r2 per kper <<<"$(python3 "$HERE/idle.py" slope "$ip" "$IDLE_N1" "$IDLE_N2" "$mode" $pp)"
				echo -e "$t\t$mode\t$IDLE_N1->$IDLE_N2\t$base\t$r1\t$r2\t$per\t$kper" >>"$OUTDIR/memory.tsv"
				log "idle $t $mode: fresh ${base} kB, ${IDLE_N1}: ${r1} kB, ${IDLE_N2}: ${r2} kB -> ${per} B/conn (kernel slab ${kper} B/conn)"
				stop_inst "$inst"
			done
		fi
		if [ "$HOLD_TEST" = 1 ]; then
			inst=${t}_hold
			launch_proxy "$t" "$ip" "$inst" && wait_port "$ip" || { log "hold instance $inst failed"; continue; }
			sleep 2.5
			curl -s -o /dev/null "http://127.0.0.1:$ip/100b"
			pp=$(tree_of "${PID[$inst]}" | tr '\n' ' ')
			n=$HOLD_N
			[[ $t == haproxy* ]] && [ $n -gt $((HAP_MAXCONN - 100)) ] && n=$((HAP_MAXCONN - 100))
			read -r base held per ok served <<<"$(python3 "$HERE/idle.py" hold "$ip" "$n" 0 request $pp)"
			echo -e "$t\t$n\t$ok\t$base\t$held\t$per\t$served" >>"$OUTDIR/hold.tsv"
			log "hold $t: $n idle connections, $ok still answer after 5 s; RSS $base -> $held kB ($per B/conn); new requests meanwhile: $served"
			stop_inst "$inst"
		fi
	done
}

# ------------------------------------------------------------ main: run
bench_main() {
	local row t need=() proxies=() fl
	cookie_decide
	machine | tee "$OUTDIR/meta.txt"
	log "results -> $OUTDIR"
	ROWS=()
	for row in $MATRIX; do
		fl=${row##*:}
		if [ -n "$FULCRUM_BASE" ]; then
			[[ ",$fl," == *",fulcrum,"* && ",$fl," != *",fulcrum_base,"* ]] && row="$row,fulcrum_base"
			[[ ",$fl," == *",fulcrum_close,"* && ",$fl," != *",fulcrum_base_close,"* ]] &&
				row="$row,fulcrum_base_close"
			[[ ",$fl," == *",fulcrum_tls,"* && ",$fl," != *",fulcrum_base_tls,"* ]] &&
				row="$row,fulcrum_base_tls"
		fi
		for name in "${ALT_NAMES[@]}"; do
			[[ ",$fl," == *",fulcrum,"* ]] && row="$row,fulcrum_$name"
			[[ ",$fl," == *",fulcrum_close,"* ]] && row="$row,fulcrum_${name}_close"
			[[ ",$fl," == *",fulcrum_tls,"* ]] && row="$row,fulcrum_${name}_tls"
		done
		ROWS+=("$row")
	done
	need=($(for row in "${ROWS[@]}"; do echo "${row##*:}" | tr , '\n'; done | sort -u))
	for t in "${need[@]}"; do
		[ -n "${PORT[$t]:-}" ] || die "unknown target $t"
		port_busy "${PORT[$t]}" && die "port ${PORT[$t]} already in use (BASE_PORT moves them)"
	done
	port_busy $B2 "${IN_NS[@]}" && die "port $B2 already in use"
	if [[ " ${need[*]}" == *_tls* ]]; then
		tls_cert_make
		log "TLS: $TLS_CERT certificate $TLS_PEM, clients TLS $TLS_CLIENT"
	fi
	[[ " ${ROWS[*]}" == *" tls_close:"* || " ${ROWS[*]}" == *" tls_resume:"* || " ${ROWS[*]}" == *" own_"* ]] &&
		tlsload_build
	start_backends
	for t in "${need[@]}"; do
		[ "$t" = direct ] && continue
		launch_proxy "$t" "${PORT[$t]}" "$t" || exit 1
		proxies+=("$t")
	done
	for t in "${proxies[@]}"; do wait_port "${PORT[$t]}" || { cat "$TMP/$t.out"; exit 1; }; done
	sleep 2.5		# the first health checks
	sanity "${need[@]}"
	ssl_lib_check "${proxies[@]}"
	for t in "${proxies[@]}"; do cp "$TMP/$t"/*.c* "$OUTDIR/$t.conf" 2>/dev/null; done
	cp "$TMP/backend1/nginx.conf" "$OUTDIR/backend.nginx.conf"
	log "sanity ok: ${need[*]}"
	# the process trees, once: ps per run would cost more than a 2 s run
	for t in "${need[@]}"; do TREE[$t]=$(group_pids "$t" | tr '\n' ' '); done
	TREE[backends]="$(tree_of "${PID[backend1]}" | tr '\n' ' ') $(tree_of "${PID[backend2]}" | tr '\n' ' ')"
	run_matrix
	for t in "${proxies[@]}"; do
		echo -e "$t\t$(sumfield VmHWM $(group_pids "$t"))"
	done >"$OUTDIR/peak_rss.tsv"
	for t in "${proxies[@]}"; do stop_inst "$t"; done
	local idle=()
	for t in fulcrum haproxy nginx fulcrum_base; do
		[[ " ${proxies[*]} " == *" $t "* ]] && idle+=("$t")
	done
	[ ${#idle[@]} -gt 0 ] && idle_tests "${idle[@]}"
	python3 "$HERE/report.py" "$OUTDIR" | tee "$OUTDIR/summary.txt"
	if [ -s "$OUTDIR/queues.tsv" ]; then	# not a bare &&: its status would be the run's
		queues_summary | tee -a "$OUTDIR/summary.txt"
	fi
}

# QUEUES=1: per row and target, the mean over rounds of queues.py's figures
queues_summary() {
	echo
	echo "== where the bytes wait (QUEUES=1, bench/queues.py): mean KiB queued, by socket group"
	awk -F'\t' 'NR == 1 { for (i = 5; i <= NF; i++) h[i] = $i; next }
	{ k = $1 " " $2 " " $4; if (!(k in n)) o[++m] = k; n[k]++
	  for (i = 5; i <= NF; i++) s[k, i] += $i }
	END { printf "%-28s", "row target"; for (i = 5; i <= 12; i++) printf " %10s", h[i]; print ""
	  for (j = 1; j <= m; j++) { k = o[j]; printf "%-28s", k
	    for (i = 5; i <= 12; i++) printf " %10.0f", s[k, i] / n[k]; print "" } }' "$OUTDIR/queues.tsv"
}

# ------------------------------------------------------------ main: profile
# Where fulcrum's CPU goes on the keep-alive 100 B path, next to HAProxy's:
# syscalls per request (strace -c -f for PROFILE_SECONDS under wrk load) and
# a perf profile of the pinned worker (perf record -g, then perf report).
profile_main() {
	local t wpid sc tgs=() hdr=() wrkpid spid
	PROFILE_SECONDS=${PROFILE_SECONDS:-10}
	PROFILE_ROWS=${PROFILE_ROWS:-ka close}
	PROFILE_FILE=${PROFILE_FILE:-100b}
	COOKIE=${COOKIE/auto/0}
	machine | tee "$OUTDIR/meta.txt"
	start_backends
	for sc in $PROFILE_ROWS; do
		[ "$sc" = ka ] && tgs+=(fulcrum haproxy) || tgs+=(fulcrum_close haproxy_close)
	done
	for t in "${tgs[@]}"; do
		launch_proxy "$t" "${PORT[$t]}" "$t" || exit 1
		wait_port "${PORT[$t]}" || exit 1
	done
	sleep 2.5
	sanity "${tgs[@]}"
	for t in "${tgs[@]}"; do
		hdr=()
		[[ $t == *_close ]] && hdr=(-H "Connection: close")
		wpid=$(serving_pid "$t")
		[ -n "$wpid" ] || die "no worker process for $t"
		# strace: syscalls per request.  strace slows the proxy down, so it
		# is attached for the whole wrk run and the counts are divided by
		# the requests wrk completed.
		strace -c -f -p "$wpid" -o "$OUTDIR/$t.strace" 2>/dev/null &
		spid=$!
		STARTED+=($spid)
		sleep 1
		$(pin "$LOAD_CPUS") "$WRK" -t1 -c"$CONNS" -d"${PROFILE_SECONDS}s" "${hdr[@]}" \
			"http://127.0.0.1:${PORT[$t]}/$PROFILE_FILE" >"$OUTDIR/$t.strace.wrk" 2>&1
		kill -INT $spid
		wait $spid
		python3 "$HERE/report.py" --strace "$OUTDIR/$t.strace" "$OUTDIR/$t.strace.wrk" "$t" |
			tee -a "$OUTDIR/syscalls.txt"
		if [ "${PERF:-1}" = 1 ] && command -v perf >/dev/null; then
			$(pin "$LOAD_CPUS") "$WRK" -t1 -c"$CONNS" -d"$((PROFILE_SECONDS + 3))s" "${hdr[@]}" \
				"http://127.0.0.1:${PORT[$t]}/$PROFILE_FILE" >"$OUTDIR/$t.perf.wrk" 2>&1 &
			wrkpid=$!
			sleep 1.5
			perf record -q -g -F 2999 -p "$wpid" -o "$OUTDIR/$t.perf.data" -- sleep "$PROFILE_SECONDS" \
				>/dev/null 2>&1
			wait $wrkpid
			perf report -i "$OUTDIR/$t.perf.data" --no-children --percent-limit 0.5 --stdio \
				--sort dso,sym -g none 2>/dev/null | grep -v '^$' | grep -v '^#' | head -60 >"$OUTDIR/$t.perf.txt"
			perf report -i "$OUTDIR/$t.perf.data" --no-children --stdio --sort dso -g none 2>/dev/null |
				grep -v '^$' | grep -v '^#' | head -8 >"$OUTDIR/$t.perf.dso.txt"
			log "perf $t: $(tr -s ' ' <"$OUTDIR/$t.perf.dso.txt" | tr '\n' ',')"
		fi
	done
	[ "${CALLGRIND:-1}" = 1 ] && command -v valgrind >/dev/null && callgrind_per_request
	log "profile -> $OUTDIR (syscalls.txt, *.perf.txt, *.strace, callgrind.txt)"
}

# User-space instructions per request, keep-alive 100 B: the proxy runs under
# callgrind (deterministic counts, unlike times on a shared machine); the
# counters are zeroed after a warm-up, then dumped after CG_SECONDS of load.
callgrind_per_request() {
	local t port inst wpid req ir
	for t in fulcrum haproxy; do
		inst=${t}_cg
		port=$((${PORT[$t]} + 2000))
		WRAP="valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=$OUTDIR/$inst.%p.out" \
			launch_proxy "$t" "$port" "$inst" || exit 1
		WAIT_TRIES=300 wait_port "$port"	# valgrind starts slowly
		sleep 3
		curl -s -o /dev/null "http://127.0.0.1:$port/100b"
		wpid=$(serving_pid "$inst")
		$(pin "$LOAD_CPUS") "$WRK" -t1 -c10 -d2s "http://127.0.0.1:$port/100b" >/dev/null 2>&1
		callgrind_control -z "$wpid" >/dev/null 2>&1
		$(pin "$LOAD_CPUS") "$WRK" -t1 -c10 -d"${CG_SECONDS:-5}s" "http://127.0.0.1:$port/100b" >"$OUTDIR/$inst.wrk" 2>&1
		callgrind_control -d "$wpid" >/dev/null 2>&1
		sleep 1
		req=$(awk '/requests in/ { print $1 }' "$OUTDIR/$inst.wrk")
		ir=$(cg_total "$OUTDIR/$inst.$wpid.out".*)
		stop_inst "$inst"
		echo "== $t: $req requests under callgrind, $(awk -v i="$ir" -v r="$req" 'BEGIN { printf "%.0f", i / (r > 0 ? r : 1) }') user-space instructions per request" |
			tee -a "$OUTDIR/callgrind.txt"
	done
}

# ------------------------------------------------------------ main: tlscount
# User-space instructions per TLS handshake, full and resumed, for the three
# proxies under callgrind (counts, unlike times, do not move with the
# machine's load); then the share of each library in them.  One worker or
# thread each, TLS_CERT's certificate, the bench's cipher lists.
tls_libshare() {		# callgrind file: exclusive instructions by library, in %
	callgrind_annotate --inclusive=no --auto=no --threshold=100 "$1" 2>/dev/null |
		grep -E '^ *[0-9,]+ .*\[.*\]$' | grep -v '(100.0%)' | awk '{
			v = $1; gsub(",", "", v); o = $NF; sub(/.*\//, "", o); sub(/\]$/, "", o)
			s[o] += v; t += v }
		END { for (o in s) if (s[o] > t / 200) printf "%s %.1f%%, ", o, 100 * s[o] / t }'
}

tlscount_main() {
	local t w m n ir out last tgs=(fulcrum_tls nginx_tls haproxy_tls)
	command -v valgrind >/dev/null || die "tlscount needs valgrind"
	machine | tee "$OUTDIR/meta.txt"
	tls_cert_make
	tlsload_build
	start_backends
	for t in "${tgs[@]}"; do
		WRAP="valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=$OUTDIR/$t.%p.cg" \
			launch_proxy "$t" "${PORT[$t]}" "$t" || exit 1
	done
	for t in "${tgs[@]}"; do WAIT_TRIES=300 wait_port "${PORT[$t]}"; done
	sleep 3
	for t in "${tgs[@]}"; do
		w=$(serving_pid "$t")
		[ -n "$w" ] || die "no serving process for $t"
		log "$t: $(echo | openssl s_client -brief -connect "127.0.0.1:${PORT[$t]}" 2>&1 |
			grep -E 'Protocol|Ciphersuite|Temp Key' | tr '\n' ' ')"
		for m in new resume; do
			out=$OUTDIR/$t.$m.load
			$(pin "$LOAD_CPUS") "$TMP/tlsload" -c4 -d2 -m $m 127.0.0.1 "${PORT[$t]}" /100b >/dev/null 2>&1
			callgrind_control -z "$w" >/dev/null 2>&1
			$(pin "$LOAD_CPUS") "$TMP/tlsload" -c4 -d"${CG_SECONDS:-8}" -m $m 127.0.0.1 "${PORT[$t]}" /100b >"$out" 2>&1
			callgrind_control -d "$w" >/dev/null 2>&1
			sleep 1
			n=$(awk '/requests in/ { print $1 }' "$out")
			last=$(ls -t "$OUTDIR/$t.$w.cg".* 2>/dev/null | head -1)
			[ -n "$last" ] && [ "${n:-0}" -gt 0 ] || die "no callgrind dump or no handshake for $t $m"
			cp "$last" "$OUTDIR/$t.$m.cg"
			ir=$(cg_total "$last")
			echo -e "$TLS_CERT\t$t\t$m\t$n handshakes\t$((ir / n)) instructions each\t$(tls_libshare "$last")" |
				tee -a "$OUTDIR/tlscount.txt"
		done
	done
	log "tlscount -> $OUTDIR/tlscount.txt (callgrind files: *.new.cg, *.resume.cg)"
}

case $CMD in
run) bench_main ;;
profile) profile_main ;;
tlscount) tlscount_main ;;
*) echo "usage: $0 [run|profile|tlscount]" >&2; exit 2 ;;
esac
