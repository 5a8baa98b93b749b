#!/usr/bin/env bash
# poprelayctl tunable and audit against a private redis-server: defaults, validated set,
# reset, change events on pr:events, audit entries for changes and reads, exit codes.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

CTL=$BUILD/poprelayctl
[ -x "$CTL" ] || pr_fail "$CTL not built"
command -v redis-server >/dev/null || pr_skip "redis-server not installed"

D=$(mktemp -d /tmp/ks-ctl-admin.XXXXXX) || pr_fail "mktemp"
pr_on_exit "rm -rf '$D'"
pr_redis_start "$D"
SOCK=$D/redis.sock
ctl() { "$CTL" -s "$SOCK" "$@"; }
rcli() { redis-cli -s "$SOCK" "$@"; }
expect_rc() { # expect_rc RC CMD...
	local want=$1 rc
	shift
	"$@" >"$D/out" 2>"$D/err"
	rc=$?
	[ "$rc" = "$want" ] || pr_fail "'$*' exited $rc, expected $want: $(cat "$D/out" "$D/err")"
}

pr_log "defaults"
expect_rc 0 ctl tunable list
grep -q "^dp.burst_size  *32  *-  *32  *1..256  *dataplane" "$D/out" || pr_fail "list: $(head -3 "$D/out")"
expect_rc 0 ctl --json tunable list
python3 -c 'import json,sys; t={x["name"]:x for x in json.load(open(sys.argv[1]))}; assert t["sip.lockout_s"]["value"]==300 and t["sip.lockout_s"]["owner"]=="slowpath"' "$D/out" ||
	pr_fail "list --json"

pr_log "set publishes an event and is audited"
rcli SUBSCRIBE pr:events >"$D/events" 2>/dev/null &
sub=$!
pr_on_exit "kill $sub"
pr_wait_for 5 grep -q subscribe "$D/events" || pr_fail "subscriber did not start"
expect_rc 0 ctl tunable set sip.lockout_s 900
[ "$(rcli HGET pr:tunables sip.lockout_s)" = 900 ] || pr_fail "value not stored"
expect_rc 0 ctl tunable get sip.lockout_s
[ "$(cat "$D/out")" = 900 ] || pr_fail "get: $(cat "$D/out")"
pr_wait_for 5 grep -qx tunables "$D/events" || pr_fail "no 'tunables' event on pr:events"

pr_log "refusals"
expect_rc 2 ctl tunable set sip.lockout_s 0
grep -q "1..86400" "$D/err" || pr_fail "range not explained"
expect_rc 2 ctl tunable set sip.lockout_s lots
expect_rc 2 ctl tunable set no.such 1
expect_rc 2 ctl tunable frob
[ "$(rcli HGET pr:tunables sip.lockout_s)" = 900 ] || pr_fail "a refused set changed the value"
rcli HSET pr:tunables dp.burst_size 100000 >/dev/null
expect_rc 1 ctl tunable get dp.burst_size
expect_rc 0 ctl tunable reset dp.burst_size
expect_rc 0 ctl tunable get dp.burst_size
[ "$(cat "$D/out")" = 32 ] || pr_fail "reset did not restore the default"

pr_log "audit view"
expect_rc 0 ctl audit --count 2
head -1 "$D/out" | grep -q "^TIME  *ACTOR  *ACTION" || pr_fail "audit header"
grep -q "tunable.reset  *tunable:dp.burst_size  *ok" "$D/out" || pr_fail "audit: $(cat "$D/out")"
[ "$(wc -l <"$D/out")" = 3 ] || pr_fail "--count 2 printed $(($(wc -l <"$D/out") - 1)) rows"
expect_rc 0 ctl audit --json
python3 - "$D/out" <<'EOF' || pr_fail "audit --json"
import json, sys
e = json.load(open(sys.argv[1]))
acts = [x["action"] for x in e]
assert acts[0] == "audit.read", acts          # reading the trail is itself audited
assert "tunable.set" in acts and all(x["actor"].startswith("ctl:") for x in e), e
assert any(x["detail"] == "value 900" for x in e), e
EOF
expect_rc 2 ctl audit --count 0

pr_log "ACL user from [ctl] redis_user / redis_password_file"
PW='ks-acl-Pass-4f9c2e'
rcli ACL SETUSER ks-ro on ">$PW" '~pr:*' '&pr:*' +@read +@connection >/dev/null
rcli ACL SETUSER ks-ctl on ">$PW" '~pr:*' '&pr:*' +@all -@dangerous >/dev/null
printf '%s\n' "$PW" >"$D/pw"
printf 'wrong-%s\n' "$PW" >"$D/badpw"
conf() { printf '[redis]\nsocket = %s\n[ctl]\nredis_user = %s\nredis_password_file = %s\n' "$SOCK" "$1" "$2" >"$D/c.conf"; }
conf ks-ro "$D/pw"
expect_rc 0 "$CTL" -c "$D/c.conf" tunable get sip.lockout_s
expect_rc 1 "$CTL" -c "$D/c.conf" tunable set sip.lockout_s 600
grep -q "NOPERM" "$D/err" || pr_fail "a read-only ACL user could write: $(cat "$D/err")"
conf ks-ctl "$D/pw"
expect_rc 0 "$CTL" -c "$D/c.conf" tunable set sip.lockout_s 600
conf ks-ctl "$D/badpw"
expect_rc 1 "$CTL" -c "$D/c.conf" tunable list
grep -q "AUTH as ks-ctl refused" "$D/err" || pr_fail "bad password not explained: $(cat "$D/err")"
grep -qF "$PW" "$D/out" "$D/err" && pr_fail "the Redis password was printed"

pr_log "redis down"
expect_rc 3 "$CTL" -s "$D/nowhere.sock" tunable list
expect_rc 3 "$CTL" -s "$D/nowhere.sock" audit
pr_log "ctl_admin: pass"
exit 0
