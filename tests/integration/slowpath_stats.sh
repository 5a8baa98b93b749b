#!/usr/bin/env bash
# The slowpath's statistics channel end to end: the slowpath (with the slowpath ACL user of
# images/poprelay-setup-redis) writes pr:stats:slowpath:<pop>:<instance> (no [sip]
# instance: the host's name) every second, poprelay-exporter
# (with the exporter ACL user) renders it, `poprelayctl status` judges the slowpath by it.
# TLS REGISTERs must move the TLS flows gauge and the request, response and registration
# counters; promtool must accept every scrape and every family be documented; a frozen
# slowpath (SIGSTOP: its listener's backlog still accepts) must read as down from its stale
# stats, in the scrape within 4 s and in status after 5 s; a stopped one at once.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$PR_ROOT/tests/integration/slowpath/common.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
EXP=$BUILD/poprelay-exporter
CTL=$BUILD/poprelayctl
for b in poprelay-slowpath poprelay-exporter poprelayctl; do
	[ -x "$BUILD/$b" ] || pr_fail "$BUILD/$b not built"
done
command -v promtool >/dev/null || pr_fail "promtool missing (make deps installs prometheus)"
command -v curl >/dev/null || pr_fail "curl missing (make deps installs it)"

D=$(pr_tmpdir)
pr_redis_start "$D"
R="redis-cli -s $D/redis.sock"
# The package's ACL users: slowpath (process_rules), exporter (exporter_rules).
acl() { # USER VAR: the user with the rules of VAR in images/poprelay-setup-redis
	local rules secret
	rules=$(sed -n "s/^$2='\(.*\)'$/\1/p" "$PR_ROOT/images/poprelay-setup-redis")
	[ -n "$rules" ] || pr_fail "no $2 in images/poprelay-setup-redis"
	secret=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	printf '%s\n' "$secret" >"$D/$1.pass"
	# shellcheck disable=SC2086 # the rules are one word each
	$R ACL SETUSER "$1" on ">$secret" $rules | grep -q OK || pr_fail "ACL SETUSER $1 $rules"
}
acl slowpath process_rules
acl exporter exporter_rules

sp_certs "$D"
TP=$(sp_free_port)
PP=$(sp_free_port)
XP=$(sp_free_port)
sp_config "$D" "$TP" "$PP" "redis_user = slowpath" "redis_password_file = $D/slowpath.pass"
cat >>"$D/sp.conf" <<CONF
[exporter]
listen = 127.0.0.1:$XP
redis_user = exporter
redis_password_file = $D/exporter.pass
CONF
sp_start "$D"
for u in alice bob carol; do
	v=SP_PW_$u
	sp_user_add "$D" $u "${!v}"
done
KEY=pr:stats:slowpath:pop1:$(hostname)
[ "$($R HGET $KEY pid)" = "$SP_PID" ] || pr_fail "$KEY pid: '$($R HGET $KEY pid)', expected $SP_PID"

# no dataplane here: a prefix with no telemetry socket
"$EXP" -c "$D/sp.conf" -p sp-stats-none 2>"$D/exp.log" &
exp_pid=$!
pr_on_exit "kill $exp_pid 2>/dev/null"
pr_wait_for 5 curl -sf -o /dev/null http://127.0.0.1:$XP/metrics || { cat "$D/exp.log"; pr_fail "exporter did not answer"; }

scrape() { # FILE: scrape into FILE, check it with promtool and docs/metrics.md
	curl -sf -m 10 -o "$1" http://127.0.0.1:$XP/metrics || pr_fail "scrape failed"
	promtool check metrics <"$1" >"$1.lint" 2>&1 || { cat "$1.lint"; pr_fail "promtool rejects $1"; }
	local f
	for f in $(awk '/^# TYPE/ {print $3}' "$1"); do
		grep -q "\`$f\`" "$PR_ROOT/docs/metrics.md" || pr_fail "$f is not in docs/metrics.md"
	done
}
value() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print "absent" }' "$1"; }
compare() { # A OP B, OP one of = -ge -lt
	case $2 in
	=) [ "$1" = "$3" ] ;;
	-ge) [ "$1" -ge "$3" ] ;;
	-lt) [ "$1" -lt "$3" ] ;;
	*) pr_fail "compare: unknown operator $2" ;;
	esac
}
expect() { # FILE SAMPLE OP VALUE
	local v
	v=$(value "$1" "$2")
	[ "$v" != absent ] && compare "${v%.*}" "$3" "$4" || pr_fail "$2 = $v, expected $3 $4"
	pr_log "ok: $2 = $v"
}
# status_row: the slowpath's state and detail from `poprelayctl status --json`
status_row() {
	"$CTL" -c "$D/sp.conf" --json status 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin)["processes"]:
    if p["process"] == "slowpath":
        print(p["state"] + "|" + p["detail"])' || true
}

scrape "$D/m1"
expect "$D/m1" poprelay_slowpath_up = 1
expect "$D/m1" poprelay_slowpath_tls_flows = 0
expect "$D/m1" 'poprelay_up{process="redis"}' = 1
reg1=$(value "$D/m1" 'poprelay_sip_requests_total{method="REGISTER"}')

pr_log "three devices register over TLS and keep their flows open"
export PR_ROOT
python3 - "$D" "$TP" <<'PY' &
import os, sys, time
sys.path.insert(0, os.environ["PR_ROOT"] + "/tests/integration/slowpath")
import sipclient as sc
d, port = sys.argv[1], int(sys.argv[2])
pw = {"alice": "tq7-Vortex-alice", "bob": "mz4-Quasar-bob", "carol": "pk2-Nebula-carol"}
uas = []
for u in ("alice", "bob", "carol"):
    ua = sc.UA(sc.Conn("tls", "127.0.0.1", port, cafile=d + "/ca.crt"), u, pw[u])
    r, _ = ua.register()
    assert r.status == 200, (u, r.status)
    uas.append(ua)
open(d + "/reg.ok", "w").close()
for _ in range(300):  # hold the flows until the test says so (30 s at most)
    if os.path.exists(d + "/release"):
        break
    time.sleep(0.1)
PY
py_pid=$!
pr_on_exit "kill $py_pid 2>/dev/null"
pr_wait_for 10 test -e "$D/reg.ok" || pr_fail "the REGISTERs did not succeed"
# the stats are at most a second old: wait for the next write
pr_wait_for 3 sh -c "[ \"\$($R HGET $KEY tls_open)\" = 3 ]" || pr_fail "tls_open in $KEY: $($R HGET $KEY tls_open)"
scrape "$D/m2"
expect "$D/m2" poprelay_slowpath_up = 1
expect "$D/m2" poprelay_slowpath_tls_flows = 3
expect "$D/m2" poprelay_slowpath_flows = 3
# each device: a REGISTER challenged 401, then one accepted 200
expect "$D/m2" 'poprelay_sip_requests_total{method="REGISTER"}' = $((reg1 + 6))
expect "$D/m2" 'poprelay_sip_registrations_total{result="ok"}' = 3
expect "$D/m2" 'poprelay_sip_registrations_total{result="challenged"}' = 3
expect "$D/m2" 'poprelay_sip_responses_total{direction="sent",class="2xx"}' -ge 3
expect "$D/m2" 'poprelay_sip_responses_total{direction="sent",class="4xx"}' -ge 3
expect "$D/m2" poprelay_slowpath_connections_accepted_total -ge 3
expect "$D/m2" 'poprelay_slowpath_refusals_total{reason="rate_limited"}' = 0
expect "$D/m2" poprelay_slowpath_stats_age_seconds -lt 3
row=$(status_row)
case "$row" in
"up|"*"stats "*" s old, 3 TLS flows") pr_log "ok: status: $row" ;;
*) pr_fail "status slowpath row: $row" ;;
esac
grep -q "$(cat "$D/exporter.pass")" "$D/m2" "$D/exp.log" && pr_fail "a password shows in the scrape or log"
touch "$D/release"
wait $py_pid || pr_fail "the registering client failed"
pr_wait_for 3 sh -c "[ \"\$($R HGET $KEY tls_open)\" = 0 ]" || pr_fail "tls_open after the flows closed: $($R HGET $KEY tls_open)"

pr_log "a frozen slowpath (SIGSTOP): stale stats"
kill -STOP "$SP_PID"
pr_on_exit "kill -CONT $SP_PID 2>/dev/null"
t0=$(date +%s%N)
pr_wait_for 6 sh -c "curl -sf -m 3 http://127.0.0.1:$XP/metrics | grep -qx 'poprelay_slowpath_up 0'" ||
	pr_fail "poprelay_slowpath_up did not drop to 0 with the slowpath frozen"
ms=$((($(date +%s%N) - t0) / 1000000))
[ $ms -le 4500 ] || pr_fail "poprelay_slowpath_up 0 took $ms ms"
pr_log "ok: poprelay_slowpath_up 0 after $ms ms frozen"
scrape "$D/m3"
sleep 2.5 # older than status's 5 s now
row=$(status_row)
case "$row" in
"down|"*"accepts connections; stats "*" s old (stale)"*) pr_log "ok: status: $row" ;;
*) pr_fail "status slowpath row with stale stats: $row" ;;
esac
"$CTL" -c "$D/sp.conf" status >"$D/status.txt" 2>&1 || true
grep -q "^down: .*slowpath" "$D/status.txt" || { cat "$D/status.txt"; pr_fail "status does not name the slowpath down"; }
kill -CONT "$SP_PID"
pr_wait_for 4 sh -c "curl -sf -m 3 http://127.0.0.1:$XP/metrics | grep -qx 'poprelay_slowpath_up 1'" ||
	pr_fail "poprelay_slowpath_up did not come back after SIGCONT"
pr_log "ok: up again after SIGCONT"

pr_log "a stopped slowpath: down at once (stopped_ms)"
kill -INT "$SP_PID"
wait "$SP_PID" 2>/dev/null || true
[ "$($R HGET $KEY stopped_ms)" -gt 0 ] || pr_fail "stopped_ms not set at the stop"
scrape "$D/m4"
expect "$D/m4" poprelay_slowpath_up = 0
row=$(status_row)
case "$row" in
"down|"*) pr_log "ok: status: $row" ;;
*) pr_fail "status slowpath row after the stop: $row" ;;
esac
pr_log "PASS"
