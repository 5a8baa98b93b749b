#!/usr/bin/env bash
# parallel: hugepages
# Alarms and the one view, against the real processes on one shared configuration file:
# Redis (the exporter's ACL user as images/poprelay-setup-redis makes it), the dataplane on
# net_af_packet over a veth (as metrics.sh runs it), the slowpath with a certificate that
# expires in 3 days, and poprelay-exporter with an [alarms] section. The certificate alarm
# is raised; UDP to a closed port of the dataplane raises drops_udp_no_listener, which stays
# raised while the rate is between the clear level and the threshold and clears only after
# clear_after calm evaluations; a stopped Redis raises redis_unreachable, kept in memory and
# written to Redis once it is back, then cleared. `poprelayctl alarms` and `status` show
# them; `status` exits 3 naming what is down, within a second even with a frozen dataplane.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
DP=$BUILD/poprelay-dataplane
SP=$BUILD/poprelay-slowpath
EXP=$BUILD/poprelay-exporter
CTL=$BUILD/poprelayctl
for b in "$DP" "$SP" "$EXP" "$CTL"; do [ -x "$b" ] || pr_fail "$b not built"; done
command -v promtool >/dev/null || pr_fail "promtool missing (make deps installs prometheus)"
command -v curl >/dev/null || pr_fail "curl missing (make deps installs it)"
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
PREFIX=al-dp
PORT=9479
M="ip netns exec al-mgmt" # the exporter, the slowpath and poprelayctl: one loopback

tmp=$(pr_tmpdir)
pr_on_exit "rm -rf /var/run/dpdk/$PREFIX"
huge=no
if grep -qw hugetlbfs /proc/filesystems && [ -w /proc/sys/vm/nr_hugepages ]; then
	pr_hugepages 256
	huge=yes
fi

# Redis, and the exporter's ACL user with the rules the package gives it.
rules=$(sed -n "s/^exporter_rules='\(.*\)'$/\1/p" "$PR_ROOT/images/poprelay-setup-redis")
[ -n "$rules" ] || pr_fail "no exporter_rules in images/poprelay-setup-redis"
secret=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$secret" >"$tmp/exporter.pass"
R="redis-cli -s $tmp/redis.sock"
redis_up() {
	pr_redis_start "$tmp"
	# shellcheck disable=SC2086 # the rules are one word each
	$R ACL SETUSER exporter on ">$secret" $rules | grep -q OK || pr_fail "ACL SETUSER exporter $rules"
}
redis_up

# The slowpath's certificate: 3 days left, under the 14-day threshold.
openssl req -x509 -newkey rsa:2048 -nodes -days 3 -subj /CN=127.0.0.1 \
	-addext "subjectAltName=IP:127.0.0.1" -addext "extendedKeyUsage=serverAuth,clientAuth" \
	-keyout "$tmp/sp.key" -out "$tmp/sp.crt" 2>/dev/null || pr_fail "openssl req"

pr_netns al-pop
pr_netns al-cli
pr_netns al-mgmt
pr_veth al-pop al0p al-cli al0c
ip netns exec al-pop sysctl -qw net.ipv6.conf.al0p.disable_ipv6=1
ip -n al-cli addr add 198.51.100.20/24 dev al0c
cat >"$tmp/pop.conf" <<CONF
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
device = net_af_packet0,iface=al0p,qpairs=2
ipv4 = 198.51.100.10/24
gateway4 = 198.51.100.1
[global]
realm = poprelay
[sip]
pop = pop1
tls_listen = 127.0.0.1:15061
listen = 127.0.0.1:15060
tls_cert = $tmp/sp.crt
tls_key = $tmp/sp.key
tls_ca = $tmp/sp.crt
advertised_host = 127.0.0.1
media_addr = 127.0.0.1
media_ports = 31000-31999
[exporter]
listen = 127.0.0.1:$PORT
redis_user = exporter
redis_password_file = $tmp/exporter.pass
[alarms]
drops_per_s = 20
clear_percent = 50
clear_after = 3
cert_expiry_days = 14
CONF

pr_log "refusals: a bad [alarms] value and an unknown key, each named"
for bad in "drops_per_s = lots" "clear_after = 0" "lcore_busy_percent = 120" "no_such_key = 1"; do
	sed "s/^drops_per_s = .*/$bad/" "$tmp/pop.conf" >"$tmp/bad.conf"
	rc=0
	"$EXP" -c "$tmp/bad.conf" 2>"$tmp/e.err" || rc=$?
	[ $rc = 2 ] && grep -q "\[alarms\] ${bad%% *}" "$tmp/e.err" || pr_fail "'$bad': exit $rc, $(cat "$tmp/e.err")"
done

ip netns exec al-pop "$DP" -c "$tmp/pop.conf" >"$tmp/dp.out" 2>"$tmp/dp.log" &
dp_pid=$!
pr_on_exit "kill -CONT $dp_pid 2>/dev/null; kill $dp_pid 2>/dev/null; sleep 0.5; kill -9 $dp_pid 2>/dev/null"
pr_wait_for 20 $TEL $PREFIX /poprelay/info || { cat "$tmp/dp.log"; pr_fail "dataplane did not come up"; }
$M "$SP" -c "$tmp/pop.conf" -v >"$tmp/sp.log" 2>&1 &
sp_pid=$!
pr_on_exit "kill $sp_pid 2>/dev/null"
pr_wait_for 10 grep -q "listening:" "$tmp/sp.log" || { cat "$tmp/sp.log"; pr_fail "slowpath did not start"; }
$M "$EXP" -c "$tmp/pop.conf" 2>"$tmp/exp.log" &
exp_pid=$!
pr_on_exit "kill $exp_pid 2>/dev/null"
pr_wait_for 5 $M curl -sf -o /dev/null http://127.0.0.1:$PORT/metrics || { cat "$tmp/exp.log"; pr_fail "exporter did not answer"; }

scrape() { # FILE: scrape into FILE and check it with promtool
	$M curl -sf -m 10 -o "$1" http://127.0.0.1:$PORT/metrics || pr_fail "scrape failed"
	promtool check metrics <"$1" >"$1.lint" 2>&1 || { cat "$1.lint"; pr_fail "promtool rejects $1"; }
}
active_metric() { # ALARM SEVERITY: the exporter renders it active
	scrape "$tmp/m"
	grep -qx "poprelay_alarm_active{alarm=\"$1\",severity=\"$2\"} 1" "$tmp/m"
}
inactive_metric() { # ALARM
	scrape "$tmp/m"
	! grep -q "^poprelay_alarm_active{alarm=\"$1\"," "$tmp/m"
}
in_redis() { [ -n "$($R hget pr:alarms:active "$1")" ]; }
ms_now() { echo $(($(date +%s%N) / 1000000)); }
status() { # OUT: poprelayctl status in the exporter's namespace; sets st_rc and st_ms
	local t0
	t0=$(ms_now)
	st_rc=0
	$M "$CTL" -c "$tmp/pop.conf" status "${@:2}" >"$1" 2>"$1.err" || st_rc=$?
	st_ms=$(($(ms_now) - t0))
}

pr_log "the certificate alarm: 3 days left, threshold 14"
pr_wait_for 5 active_metric tls_cert_expiring warning || pr_fail "no tls_cert_expiring alarm: $(grep alarm "$tmp/m")"
grep -Eq "warning: alarm raised: tls_cert_expiring \(warning, value (2\.9|3\.00)" "$tmp/exp.log" ||
	pr_fail "no log line for tls_cert_expiring: $(cat "$tmp/exp.log")"
pr_wait_for 3 in_redis tls_cert_expiring || pr_fail "tls_cert_expiring not in pr:alarms:active"
$R hget pr:alarms:active tls_cert_expiring | python3 -c '
import json, sys
a = json.load(sys.stdin)
assert a["severity"] == "warning" and a["threshold"] == 14 and 2.9 < a["value"] <= 3, a
assert abs(a["since"] - int(sys.argv[1])) < 60, a' "$(date +%s)" || pr_fail "pr:alarms:active tls_cert_expiring: $($R hget pr:alarms:active tls_cert_expiring)"
for f in $(awk '/^# TYPE/ {print $3}' "$tmp/m"); do
	grep -q "\`$f\`" "$PR_ROOT/docs/metrics.md" || pr_fail "$f is not in docs/metrics.md"
done
$M "$CTL" -c "$tmp/pop.conf" alarms >"$tmp/alarms.txt" || pr_fail "poprelayctl alarms: exit $?"
grep -q "^tls_cert_expiring  *warning " "$tmp/alarms.txt" || pr_fail "alarms: $(cat "$tmp/alarms.txt")"

pr_log "status: every process up, the active alarm shown, exit 0, under a second"
status "$tmp/st1"
[ $st_rc = 0 ] || pr_fail "status exit $st_rc: $(cat "$tmp/st1" "$tmp/st1.err")"
for p in dataplane redis slowpath exporter; do
	grep -q "^$p  *up " "$tmp/st1" || pr_fail "status: $p not up: $(cat "$tmp/st1")"
done
grep -q "dataplane: running" "$tmp/st1" && grep -q "^0  *net_af_packet0" "$tmp/st1" ||
	pr_fail "status lost the dataplane's view: $(cat "$tmp/st1")"
grep -q "^tls_cert_expiring  *warning" "$tmp/st1" || pr_fail "status shows no alarm: $(cat "$tmp/st1")"
[ $st_ms -lt 1000 ] || pr_fail "status took $st_ms ms"
pr_log "ok: status in $st_ms ms"

pr_log "drops: UDP to a closed port, 60/s (threshold 20/s), then 15/s (above the clear level 10/s), then none"
udp() { # RATE SECONDS
	ip netns exec al-cli python3 -c '
import socket, sys, time
rate, secs = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t0 = time.monotonic()
n = 0
while time.monotonic() - t0 < secs:
    s.sendto(b"x" * 32, ("198.51.100.10", 9))
    n += 1
    time.sleep(max(0, t0 + n / rate - time.monotonic()))' "$1" "$2"
}
ip netns exec al-cli ping -c 1 -W 2 198.51.100.10 >/dev/null || pr_fail "ping"
udp 60 3
active_metric drops_udp_no_listener warning || pr_fail "no drops alarm after 3 s at 60/s: $(grep alarm "$tmp/m")"
grep -q "alarm raised: drops_udp_no_listener (warning, value [0-9.]*, threshold 20.00)" "$tmp/exp.log" ||
	pr_fail "no raise log line: $(cat "$tmp/exp.log")"
udp 15 4
active_metric drops_udp_no_listener warning || pr_fail "the drops alarm cleared at 15/s, above its clear level"
t_stop=$(ms_now)
pr_wait_for 8 inactive_metric drops_udp_no_listener || pr_fail "the drops alarm did not clear once the traffic stopped"
t_clear=$(ms_now)
[ $((t_clear - t_stop)) -ge 1500 ] || pr_fail "cleared $((t_clear - t_stop)) ms after the traffic stopped: no hysteresis"
pr_log "ok: cleared $((t_clear - t_stop)) ms after the traffic stopped"
grep -q "notice: alarm cleared: drops_udp_no_listener (value 0.00, 3 evaluations within the clear level 10.00" "$tmp/exp.log" ||
	pr_fail "no clear log line: $(cat "$tmp/exp.log")"
[ "$(grep -c "alarm raised: drops_udp_no_listener" "$tmp/exp.log")" = 1 ] || pr_fail "raised more than once: $(cat "$tmp/exp.log")"
pr_wait_for 3 sh -c "! $R hexists pr:alarms:active drops_udp_no_listener | grep -q 1" || pr_fail "drops alarm still in pr:alarms:active"
$M "$CTL" -c "$tmp/pop.conf" --json alarms --all >"$tmp/alarms.json" || pr_fail "alarms --json --all"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
ev = [(e["event"], e["alarm"]) for e in d["log"]]
assert ev.index(("clear", "drops_udp_no_listener")) < ev.index(("raise", "drops_udp_no_listener")), ev
assert [a["alarm"] for a in d["active"]] == ["tls_cert_expiring"], d["active"]' "$tmp/alarms.json" ||
	pr_fail "alarms --json --all: $(cat "$tmp/alarms.json")"

pr_log "a stopped Redis: redis_unreachable raised, status exits 3 naming it"
kill "$(cat "$tmp/redis.pid")"
pr_wait_for 5 sh -c "! test -S '$tmp/redis.sock'" || true
t_down=$(date +%s)
pr_wait_for 5 active_metric redis_unreachable error || pr_fail "no redis_unreachable alarm"
grep -q "error: alarm raised: redis_unreachable (error," "$tmp/exp.log" || pr_fail "no log line for redis_unreachable"
status "$tmp/st2"
[ $st_rc = 3 ] && grep -q "^redis  *down " "$tmp/st2" && grep -q "^down: redis$" "$tmp/st2" ||
	pr_fail "status with Redis stopped: exit $st_rc, $(cat "$tmp/st2")"
[ $st_ms -lt 1000 ] || pr_fail "status took $st_ms ms with Redis stopped"
sleep 1
pr_log "Redis back: the alarm kept in memory is written, then cleared"
redis_up
pr_wait_for 3 in_redis redis_unreachable || pr_fail "redis_unreachable never written to pr:alarms:active"
pr_wait_for 8 inactive_metric redis_unreachable || pr_fail "redis_unreachable did not clear"
grep -q "notice: alarm cleared: redis_unreachable" "$tmp/exp.log" || pr_fail "no clear log line for redis_unreachable"
pr_wait_for 3 sh -c "! $R hexists pr:alarms:active redis_unreachable | grep -q 1" || pr_fail "redis_unreachable still in Redis"
$M "$CTL" -c "$tmp/pop.conf" --json alarms --all >"$tmp/alarms2.json" || pr_fail "alarms after the restart"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
ev = [e for e in d["log"] if e["alarm"] == "redis_unreachable"]
assert [e["event"] for e in ev] == ["clear", "raise"], ev
# the raise carries its own time, from while Redis was down
assert abs(ev[1]["ts"] - int(sys.argv[2])) <= 3, (ev, sys.argv[2])' "$tmp/alarms2.json" "$t_down" ||
	pr_fail "pr:alarms:log after the restart: $(cat "$tmp/alarms2.json")"
in_redis tls_cert_expiring || pr_fail "the active hash lost tls_cert_expiring after Redis came back"

pr_log "a frozen dataplane: status names it and answers within a second"
kill -STOP $dp_pid
status "$tmp/st3"
kill -CONT $dp_pid
[ $st_rc = 3 ] && grep -q "^down: dataplane$" "$tmp/st3" && grep -q "^dataplane  *down  *no telemetry greeting" "$tmp/st3" ||
	pr_fail "status with the dataplane frozen: exit $st_rc, $(cat "$tmp/st3")"
[ $st_ms -lt 1000 ] || pr_fail "status took $st_ms ms with the dataplane frozen"
pr_log "ok: status with the dataplane frozen took $st_ms ms"

pr_log "a stopped dataplane: status exits 3 naming it; --json the same; the alarm"
kill -TERM $dp_pid
wait $dp_pid || pr_fail "dataplane exit $?"
status "$tmp/st4"
[ $st_rc = 3 ] && grep -q "^down: dataplane$" "$tmp/st4" && grep -q "^dataplane: down: not running" "$tmp/st4" ||
	pr_fail "status with the dataplane stopped: exit $st_rc, $(cat "$tmp/st4")"
[ $st_ms -lt 1000 ] || pr_fail "status took $st_ms ms with the dataplane stopped"
status "$tmp/st4.json" --json
[ $st_rc = 3 ] || pr_fail "status --json exit $st_rc"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["down"] == ["dataplane"] and d["running"] is False, d
assert {p["process"]: p["state"] for p in d["processes"]} == {"dataplane": "down", "redis": "up", "slowpath": "up", "exporter": "up", "turnfront": "not checked", "dtls": "not checked"}, d
assert "tls_cert_expiring" in [a["alarm"] for a in d["alarms"]], d
assert d["nic_binding"] is None, d' "$tmp/st4.json" ||
	pr_fail "status --json: $(cat "$tmp/st4.json")"
# the appliance image's NIC binding failed, so the dataplane was never started: status says so
echo "failed: 0000:00:04.0: dpdk-devbind.py --bind=vfio-pci failed (driver now: none)" >"$tmp/nic-bind.status"
POPRELAY_NIC_BIND_STATUS=$tmp/nic-bind.status status "$tmp/st4b"
[ $st_rc = 3 ] && grep -q "^dataplane: down: not running.*; NIC binding failed: 0000:00:04.0: dpdk-devbind" "$tmp/st4b" &&
	grep -q "^NIC binding: failed: 0000:00:04.0" "$tmp/st4b" ||
	pr_fail "status with a failed NIC binding: exit $st_rc, $(cat "$tmp/st4b")"
POPRELAY_NIC_BIND_STATUS=$tmp/nic-bind.status status "$tmp/st4b.json" --json
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["nic_binding"].startswith("failed: 0000:00:04.0"), d' \
	"$tmp/st4b.json" || pr_fail "status --json with a failed NIC binding: $(cat "$tmp/st4b.json")"
pr_log "ok: a failed NIC binding is named in status (text and --json)"
pr_wait_for 5 active_metric dataplane_unreachable error || pr_fail "no dataplane_unreachable alarm"
pr_wait_for 3 in_redis dataplane_unreachable || pr_fail "dataplane_unreachable not in Redis"
status "$tmp/st5"
grep -q "^dataplane_unreachable  *error" "$tmp/st5" || pr_fail "status does not show dataplane_unreachable: $(cat "$tmp/st5")"

pr_log "a stopped slowpath"
kill $sp_pid
wait $sp_pid 2>/dev/null || true
status "$tmp/st6"
[ $st_rc = 3 ] && grep -q "^down: dataplane, slowpath$" "$tmp/st6" && grep -q "^slowpath  *down  *tcp 127.0.0.1:15061" "$tmp/st6" ||
	pr_fail "status with the slowpath stopped: exit $st_rc, $(cat "$tmp/st6")"

grep -q "$secret" "$tmp"/st* "$tmp/exp.log" "$tmp/alarms.txt" "$tmp/alarms.json" "$tmp/m" && pr_fail "the Redis password shows"
kill -TERM $exp_pid
rc=0
wait $exp_pid || rc=$?
[ $rc = 0 ] || pr_fail "exporter exit $rc after SIGTERM"
pr_log "PASS"
