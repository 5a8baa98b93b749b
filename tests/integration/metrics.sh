#!/usr/bin/env bash
# parallel: hugepages
# poprelay-exporter against the real processes: Redis (with the exporter's read-only ACL
# user from images/poprelay-setup-redis), the dataplane on net_af_packet over a veth, and
# the exporter in a namespace of its own. Prometheus's promtool must accept every scrape;
# counters must follow pings; Redis records and the certificate's expiry must show; a
# stopped or frozen dataplane and a stopped Redis must give poprelay_up 0 quickly; the
# listener must be on the configured loopback address only; other paths must get 404.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
DP=$BUILD/poprelay-dataplane
EXP=$BUILD/poprelay-exporter
[ -x "$DP" ] || pr_fail "$DP not built"
[ -x "$EXP" ] || pr_fail "$EXP not built"
command -v promtool >/dev/null || pr_fail "promtool missing (make deps installs prometheus)"
command -v curl >/dev/null || pr_fail "curl missing (make deps installs it)"
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
PREFIX=mx-dp
N=6
PORT=9469

tmp=$(pr_tmpdir)
pr_on_exit "rm -rf /var/run/dpdk/$PREFIX"
huge=no
if grep -qw hugetlbfs /proc/filesystems && [ -w /proc/sys/vm/nr_hugepages ]; then
	pr_hugepages 256
	huge=yes
fi

# Redis, and the exporter's ACL user with the rules the package gives it.
pr_redis_start "$tmp"
rules=$(sed -n "s/^exporter_rules='\(.*\)'$/\1/p" "$PR_ROOT/images/poprelay-setup-redis")
[ -n "$rules" ] || pr_fail "no exporter_rules in images/poprelay-setup-redis"
secret=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$secret" >"$tmp/exporter.pass"
# shellcheck disable=SC2086 # the rules are one word each
redis-cli -s "$tmp/redis.sock" ACL SETUSER exporter on ">$secret" $rules | grep -q OK ||
	pr_fail "ACL SETUSER exporter $rules"
R="redis-cli -s $tmp/redis.sock"
# Records as the slowpath writes them: two registrations (one over TLS), one call with two
# anchored m= lines, and a CDR.
now=$(date +%s)
$R zadd pr:regs $((now + 600)) alice $((now + 600)) bob $((now - 10)) stale >/dev/null
$R hset pr:reg:alice transport tls >/dev/null
$R hset pr:reg:bob transport udp >/dev/null
$R sadd pr:users alice bob carol >/dev/null
$R zadd pr:cdrs "$now" cdr1 >/dev/null

openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=metrics-test \
	-keyout "$tmp/sp.key" -out "$tmp/sp.crt" 2>/dev/null

# The dataplane, as dataplane_ping.sh runs it.
pr_netns mx-pop
pr_netns mx-cli
pr_netns mx-exp
pr_veth mx-pop mx0p mx-cli mx0c
ip netns exec mx-pop sysctl -qw net.ipv6.conf.mx0p.disable_ipv6=1
ip -n mx-cli addr add 198.51.100.20/24 dev mx0c
cat >"$tmp/dp.conf" <<CONF
[eal]
lcores = 0-1
memory_mb = 128
huge = $huge
file_prefix = $PREFIX
[dataplane]
mbuf_pool_size = 4095
mbuf_cache_size = 64
worker_idle_sleep_us = 100
[redis]
socket = $tmp/redis.sock
[port0]
device = net_af_packet0,iface=mx0p,qpairs=2
ipv4 = 198.51.100.10/24
gateway4 = 198.51.100.1
# The other processes' sections: the dataplane skips them.
[sip]
tls_cert = $tmp/sp.crt
[exporter]
listen = 127.0.0.1:$PORT
redis_user = exporter
redis_password_file = $tmp/exporter.pass
CONF
start_dp() {
	ip netns exec mx-pop "$DP" -c "$tmp/dp.conf" >"$tmp/dp.out" 2>"$tmp/dp.log" &
	dp_pid=$!
	pr_on_exit "kill -CONT $dp_pid 2>/dev/null; kill $dp_pid 2>/dev/null; sleep 0.5; kill -9 $dp_pid 2>/dev/null"
	pr_wait_for 20 $TEL $PREFIX /poprelay/info || { cat "$tmp/dp.log"; pr_fail "dataplane did not come up"; }
}
start_dp

pr_log "refusals: a wildcard listen address, a bad port"
rc=0
"$EXP" -l 0.0.0.0:$PORT 2>"$tmp/e.err" || rc=$?
[ $rc = 2 ] && grep -q -- "-l '0.0.0.0:$PORT': a wildcard" "$tmp/e.err" || pr_fail "wildcard -l: exit $rc, $(cat "$tmp/e.err")"
sed "s/^listen = .*/listen = [::]:$PORT/" "$tmp/dp.conf" >"$tmp/bad.conf"
rc=0
"$EXP" -c "$tmp/bad.conf" 2>"$tmp/e.err" || rc=$?
[ $rc = 2 ] && grep -q "\[exporter\] listen '\[::\]:$PORT': a wildcard" "$tmp/e.err" ||
	pr_fail "wildcard [exporter] listen: exit $rc, $(cat "$tmp/e.err")"
rc=0
"$EXP" -c "$tmp/dp.conf" -l 127.0.0.1:0 2>"$tmp/e.err" || rc=$?
[ $rc = 2 ] && grep -q "port must be" "$tmp/e.err" || pr_fail "port 0: exit $rc, $(cat "$tmp/e.err")"

# A second address in the exporter's namespace, to show nothing listens there.
ip -n mx-exp link add mxe0 type veth peer name mxe1
ip -n mx-exp addr add 192.0.2.77/24 dev mxe0
ip -n mx-exp link set mxe0 up
ip -n mx-exp link set mxe1 up
ip netns exec mx-exp "$EXP" -c "$tmp/dp.conf" 2>"$tmp/exp.log" &
exp_pid=$!
pr_on_exit "kill $exp_pid 2>/dev/null"
X="ip netns exec mx-exp"
pr_wait_for 5 $X curl -sf -o /dev/null http://127.0.0.1:$PORT/metrics || { cat "$tmp/exp.log"; pr_fail "exporter did not answer"; }

pr_log "listener: 127.0.0.1:$PORT only"
lst=$($X ss -Hltn)
[ "$(echo "$lst" | awk '{print $4}')" = "127.0.0.1:$PORT" ] || pr_fail "listening sockets: $lst"
rc=0
$X curl -s -m 3 -o /dev/null http://192.0.2.77:$PORT/metrics || rc=$?
[ $rc = 7 ] || pr_fail "the exporter answered (or curl exit $rc) on 192.0.2.77"

pr_log "404 for anything but GET /metrics"
for req in "GET /" "GET /metrics/x" "GET /debug" "POST /metrics" "PUT /metrics" "DELETE /metrics"; do
	code=$($X curl -s -o /dev/null -w '%{http_code}' -X "${req% *}" "http://127.0.0.1:$PORT${req#* }")
	[ "$code" = 404 ] || pr_fail "$req: HTTP $code, expected 404"
done

scrape() { # FILE: scrape into FILE (headers FILE.h, seconds taken FILE.t), check it with promtool
	$X curl -sf -m 10 -D "$1.h" -o "$1" -w '%{time_total}' http://127.0.0.1:$PORT/metrics >"$1.t" ||
		pr_fail "scrape failed"
	promtool check metrics <"$1" >"$1.lint" 2>&1 || { cat "$1.lint"; pr_fail "promtool rejects $1"; }
}
# value FILE 'name{labels}': the sample's value (labels exactly as rendered), or "absent".
value() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print "absent" }' "$1"; }
# sum FILE NAME: every sample of a family, added up.
sum() { awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%d\n", s }' "$1"; }
expect() { # FILE SAMPLE OP VALUE
	local v
	v=$(value "$1" "$2")
	[ "$v" != absent ] && [ "${v%.*}" "$3" "$4" ] || pr_fail "$2 = $v, expected $3 $4"
	pr_log "ok: $2 = $v"
}

scrape "$tmp/m1"
grep -q '^Content-Type: text/plain; version=0.0.4' "$tmp/m1.h" || pr_fail "content type: $(cat "$tmp/m1.h")"
expect "$tmp/m1" 'poprelay_up{process="dataplane"}' = 1
expect "$tmp/m1" 'poprelay_up{process="redis"}' = 1
# Every family is documented, and every documented family name is one the code renders.
for f in $(awk '/^# TYPE/ {print $3}' "$tmp/m1"); do
	grep -q "\`$f\`" "$PR_ROOT/docs/metrics.md" || pr_fail "$f is not in docs/metrics.md"
done
grep -q 'poprelay_lcore_rx_packets_total{lcore="1",role="worker"}' "$tmp/m1" || pr_fail "no worker lcore sample"
grep -q '^poprelay_port_info{port="0",device="net_af_packet0,iface=mx0p,qpairs=2",' "$tmp/m1" || pr_fail "no port 0 info"
grep -q '^poprelay_drops_total{reason="ipv4_bad_checksum"} ' "$tmp/m1" || pr_fail "no drops by reason"
grep -q '^poprelay_lcore_busy_percent{lcore="1",role="worker"} ' "$tmp/m1" || pr_fail "no busy percent"
expect "$tmp/m1" 'poprelay_registrations' = 2
expect "$tmp/m1" 'poprelay_registrations_by_transport{transport="tls"}' = 1
expect "$tmp/m1" 'poprelay_registrations_by_transport{transport="udp"}' = 1
expect "$tmp/m1" 'poprelay_users' = 3
expect "$tmp/m1" 'poprelay_cdrs' = 1
expect "$tmp/m1" "poprelay_tls_certificate_readable{file=\"$tmp/sp.crt\"}" = 1
expect "$tmp/m1" "poprelay_tls_certificate_expiry_seconds{file=\"$tmp/sp.crt\"}" -gt $((29 * 86400))
expect "$tmp/m1" "poprelay_tls_certificate_expiry_seconds{file=\"$tmp/sp.crt\"}" -le $((30 * 86400))
grep -q "$secret" "$tmp/m1" "$tmp/exp.log" && pr_fail "the Redis password shows in the scrape or log"

pr_log "counters follow traffic: $N pings"
ip netns exec mx-cli ping -c $N -i 0.2 -W 2 198.51.100.10 >/dev/null || pr_fail "ping"
scrape "$tmp/m2"
for f in poprelay_lcore_rx_packets_total poprelay_lcore_tx_packets_total poprelay_port_rx_packets_total; do
	a=$(sum "$tmp/m1" $f) b=$(sum "$tmp/m2" $f)
	[ $((b - a)) -ge $N ] || pr_fail "$f grew by $((b - a)) over $N pings ($a -> $b)"
	pr_log "ok: $f $a -> $b"
done
a=$(value "$tmp/m1" 'poprelay_dataplane_events_total{event="icmp_echo_in"}')
b=$(value "$tmp/m2" 'poprelay_dataplane_events_total{event="icmp_echo_in"}')
[ $((b - a)) = $N ] || pr_fail "icmp_echo_in went $a -> $b over $N pings"
# Sessions the slowpath would write: two m= lines of one call, then the figures.
$R sadd pr:sessions s1 s2 >/dev/null
$R hset pr:session:s1 call_id call-1@x >/dev/null
$R hset pr:session:s2 call_id call-1@x >/dev/null
scrape "$tmp/m3"
expect "$tmp/m3" 'poprelay_store_media_sessions' = 2
expect "$tmp/m3" 'poprelay_calls_active' = 1
$R del pr:sessions pr:session:s1 pr:session:s2 >/dev/null

pr_log "a frozen dataplane (SIGSTOP) does not hang the scrape"
kill -STOP $dp_pid
scrape "$tmp/m4"
ms=$(awk '{printf "%d", $1 * 1000}' "$tmp/m4.t")
kill -CONT $dp_pid
expect "$tmp/m4" 'poprelay_up{process="dataplane"}' = 0
expect "$tmp/m4" 'poprelay_up{process="redis"}' = 1
[ $ms -lt 5000 ] || pr_fail "the scrape took $ms ms with the dataplane frozen"
pr_log "ok: scrape with the dataplane frozen took $ms ms"

pr_log "a stopped dataplane"
kill -TERM $dp_pid
wait $dp_pid || pr_fail "dataplane exit $?"
scrape "$tmp/m5"
ms=$(awk '{printf "%d", $1 * 1000}' "$tmp/m5.t")
expect "$tmp/m5" 'poprelay_up{process="dataplane"}' = 0
[ $ms -lt 1000 ] || pr_fail "the scrape took $ms ms with the dataplane stopped"
pr_log "ok: scrape with the dataplane stopped took $ms ms"
grep -q '^poprelay_lcore_' "$tmp/m5" && pr_fail "lcore figures rendered for a stopped dataplane"
expect "$tmp/m5" 'poprelay_registrations' = 2

pr_log "a stopped Redis"
kill "$(cat "$tmp/redis.pid")"
pr_wait_for 5 sh -c "! test -S '$tmp/redis.sock'" || true
scrape "$tmp/m6"
expect "$tmp/m6" 'poprelay_up{process="redis"}' = 0
grep -q '^poprelay_registrations' "$tmp/m6" && pr_fail "registrations rendered with Redis stopped"

kill -TERM $exp_pid
rc=0
wait $exp_pid || rc=$?
[ $rc = 0 ] || pr_fail "exporter exit $rc after SIGTERM"
pr_log "PASS"
