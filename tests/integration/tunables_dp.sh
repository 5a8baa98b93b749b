#!/usr/bin/env bash
# parallel: hugepages
# Every dataplane tunable is live: set with poprelayctl, it changes the running dataplane's
# behaviour within a second, and `tunable get` / `/poprelay/tunables` show it in force;
# reset, the configuration's value is back. One dataplane (TURN and the media anchor on
# net_af_packet in namespace tu-pop), devices a and b on a bridge (media/callenv.sh).
#   dp.burst_size            the value in force (telemetry, get), and traffic still flows
#   turn.max_allocs_per_user 1: a second allocation of the user gets 486; reset: it succeeds
#   turn.default_lifetime_s  an Allocate without LIFETIME is granted the new value
#   turn.max_lifetime_s      an Allocate asking 3600 s is granted the new maximum
#   turn.nonce_lifetime_s    10: a nonce 11 s old gets 438 (stale); a fresh one is accepted
#   turn.bw_kbps             16: a burst of ChannelData (to an anchor port of ours, hairpinned)
#                            is cut (drops turn_bandwidth grow);
#                            before, the same burst is not
#   dp.session_idle_s        a silent session is not reported idle at 60 s; set to 5, it is
#                            reported (pr:sessions:events, op idle) at once
# Exits 0, 77 (skip: not root, baresip/dumpcap missing, as callenv.sh), 1.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
source "$PR_ROOT/tests/integration/media/callenv.sh"
source "$PR_ROOT/tests/integration/media/sessions.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
ce_init tu tu-tun
ce_topology a=198.51.100.21 b=198.51.100.22
ce_dataplane
printf '[redis]\nsocket = %s\n' "$D/redis.sock" >"$D/ctl.conf"
CTL="$BUILD/poprelayctl -c $D/ctl.conf"
TUSER=tuner
TPW=tuner-pw-$RANDOM$RANDOM
printf '%s\n' "$TPW" | $CTL user add $TUSER >/dev/null || ce_fail "poprelayctl user add"
turn() { # CMD ARGS...: tunables_turn.py in device a's namespace
	ip netns exec tu-a python3 "$PR_ROOT/tests/integration/tunables_turn.py" "$1" \
		--server $DP_IP:3478 --user $TUSER --password "$TPW" "${@:2}"
}
jf() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(d.get('$1'))" "$2"; }
tel() { # PATH FIELD (for /poprelay/tunables: NAME, group.key)
	$TEL $PREFIX "$1" | python3 -c "
import json, sys
d = list(json.load(sys.stdin).values())[0]
for k in '$2'.split('.', 1) if '$1' == '/poprelay/tunables' else ['$2']:
    d = d.get(k, {}) if isinstance(d, dict) else None
print(d)"
}
# set NAME VALUE: poprelayctl tunable set, then the dataplane shows VALUE in force within a
# second (its telemetry), and `tunable get` agrees
set_live() {
	local t0 t1
	t0=$(date +%s%N)
	$CTL tunable set "$1" "$2" >/dev/null || ce_fail "tunable set $1 $2"
	while [ "$(tel /poprelay/tunables "$1")" != "$2" ]; do
		t1=$(date +%s%N)
		[ $(((t1 - t0) / 1000000)) -lt 1000 ] ||
			ce_fail "$1 = $2 not in force 1 s after the set: $($TEL $PREFIX /poprelay/tunables 2>&1)"
		sleep 0.05
	done
	echo "ok: $1 = $2 in force after $((($(date +%s%N) - t0) / 1000000)) ms"
	[ "$($CTL tunable get "$1" 2>/dev/null)" = "$2" ] || ce_fail "tunable get $1: $($CTL tunable get "$1")"
}
reset_live() { # NAME VALUE: back to the configuration's VALUE within a second
	local t0
	t0=$(date +%s%N)
	$CTL tunable reset "$1" >/dev/null || ce_fail "tunable reset $1"
	while [ "$(tel /poprelay/tunables "$1")" != "$2" ]; do
		[ $((($(date +%s%N) - t0) / 1000000)) -lt 1000 ] || ce_fail "$1 not back to $2 1 s after reset"
		sleep 0.05
	done
}

pr_log "the values in force at start are the configuration's, reported to poprelayctl"
in_force() { # NAME: the value the owner reported in force ("None" before its report)
	$CTL --json tunable get "$1" 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['in_force'])"
}
in_force_is() { [ "$(in_force "$1")" = "$2" ]; }
pr_wait_for 5 in_force_is dp.burst_size 32 ||
	ce_fail "dp.burst_size not reported in force: $($CTL --json tunable get dp.burst_size 2>&1)"
$CTL tunable list >"$D/list" || ce_fail "tunable list"
grep -q "^turn.max_allocs_per_user  *100  *100  *100  *0..1000000  *dataplane" "$D/list" ||
	ce_fail "list: $(grep max_allocs "$D/list")"

pr_log "dp.burst_size"
set_live dp.burst_size 4
grep -q "tunables: dp.burst_size 32 -> 4 (pr:tunables)" "$D/dp.log" || ce_fail "no log line for the change"
ip netns exec tu-a ping -c 3 -i 0.2 -W 2 $DP_IP >/dev/null || ce_fail "no answer with burst 4"
reset_live dp.burst_size 32

pr_log "turn.max_allocs_per_user"
turn alloc --hold 30 >"$D/hold1" &
hold=$!
pr_on_exit "kill $hold 2>/dev/null"
pr_wait_for 5 grep -q '"ok": true' "$D/hold1" || ce_fail "first allocation: $(cat "$D/hold1")"
out=$(turn alloc)
[ "$(jf ok "$out")" = True ] || ce_fail "a second allocation at the default quota: $out"
set_live turn.max_allocs_per_user 1
out=$(turn alloc)
[ "$(jf code "$out")" = 486 ] || ce_fail "quota 1: a second allocation got $out, not 486"
echo "ok: quota 1: the second allocation is refused 486"
reset_live turn.max_allocs_per_user 100
out=$(turn alloc)
[ "$(jf ok "$out")" = True ] || ce_fail "after reset: $out"
kill $hold 2>/dev/null
wait $hold 2>/dev/null

pr_log "turn.default_lifetime_s and turn.max_lifetime_s"
out=$(turn alloc)
[ "$(jf lifetime "$out")" = 600 ] || ce_fail "default lifetime: $out"
set_live turn.default_lifetime_s 120
out=$(turn alloc)
[ "$(jf lifetime "$out")" = 120 ] || ce_fail "default lifetime 120: granted $out"
out=$(turn alloc --lifetime 3600)
[ "$(jf lifetime "$out")" = 3600 ] || ce_fail "max lifetime 3600: granted $out"
set_live turn.max_lifetime_s 900
out=$(turn alloc --lifetime 3600)
[ "$(jf lifetime "$out")" = 900 ] || ce_fail "max lifetime 900: granted $out"
echo "ok: lifetimes granted 120 (default) and 900 (maximum)"
# a maximum below the default cannot hold: refused, logged, the old value stays
$CTL tunable set turn.max_lifetime_s 100 >/dev/null || ce_fail "set max 100"
sleep 1
[ "$(tel /poprelay/tunables turn.max_lifetime_s)" = 900 ] || ce_fail "a maximum below the default was applied"
grep -q "turn.max_lifetime_s = 100 refused" "$D/dp.log" || ce_fail "the refusal is not logged"
echo "ok: a maximum below the default is refused and logged; 900 stays in force"
reset_live turn.max_lifetime_s 3600
reset_live turn.default_lifetime_s 600

pr_log "turn.nonce_lifetime_s"
set_live turn.nonce_lifetime_s 10
out=$(turn stale --wait 0)
[ "$(jf code "$out")" = 0 ] || ce_fail "a fresh nonce: $out"
out=$(turn stale --wait 11)
[ "$(jf code "$out")" = 438 ] || ce_fail "a nonce 11 s old with nonce_lifetime_s 10: $out, not 438"
echo "ok: nonce lifetime 10 s: a nonce 11 s old is stale (438)"
reset_live turn.nonce_lifetime_s 600

pr_log "turn.bw_kbps"
bw0=$(tel /poprelay/drops turn_bandwidth)
out=$(turn flood --peer $DP_IP:31500 --count 200 --size 1000) || ce_fail "flood without a limit: $out"
sleep 0.5
[ "$(tel /poprelay/drops turn_bandwidth)" = "$bw0" ] || ce_fail "drops without a bandwidth limit"
set_live turn.bw_kbps 16
out=$(turn flood --peer $DP_IP:31500 --count 200 --size 1000) || ce_fail "flood with 16 kbps: $out"
sleep 0.5
bw1=$(tel /poprelay/drops turn_bandwidth)
[ $((bw1 - bw0)) -ge 100 ] || ce_fail "16 kbps: only $((bw1 - bw0)) of 200 dropped for bandwidth"
echo "ok: 16 kbps: $((bw1 - bw0)) of a 200 x 1000 B burst dropped for bandwidth (none before)"
reset_live turn.bw_kbps 0

pr_log "dp.session_idle_s"
ms_redis() { R "$@"; }
MS_RELAY=$DP_IP
MS_IDLE=0 ms_store install tu1 "peer=$IP_a:40000 relay=31000" "peer=$IP_b:40002 relay=31002" ||
	ce_fail "session store"
pr_wait_for 5 bash -c "$TEL $PREFIX /poprelay/media/stats | grep -q '\"sessions\": 1'" ||
	ce_fail "the session was not installed"
# its two legs, in clear and silent (the telemetry behind poprelay_media_legs*)
[ "$(tel /poprelay/media/stats legs)/$(tel /poprelay/media/stats legs_srtp)/$(tel /poprelay/media/stats legs_latched)" = 2/0/0 ] ||
	ce_fail "legs/legs_srtp/legs_latched: $($TEL $PREFIX /poprelay/media/stats)"
sleep 7
[ "$(R XLEN pr:sessions:events)" = 0 ] || ce_fail "reported idle after 7 s with session_idle_s 60"
t0=$(date +%s%N)
set_live dp.session_idle_s 5
pr_wait_for 3 bash -c "redis-cli -s '$D/redis.sock' XRANGE pr:sessions:events - + | grep -qx tu1" ||
	ce_fail "not reported idle with session_idle_s 5"
echo "ok: silent for 7 s: not idle at 60 s; set to 5, reported idle after $((($(date +%s%N) - t0) / 1000000)) ms"
reset_live dp.session_idle_s 60

pr_log "a value stored while the dataplane is down holds from its start"
$CTL tunable set turn.default_lifetime_s 300 >/dev/null
kill $DP_PID
wait $DP_PID 2>/dev/null
# its hugepages back first (CI once saw the new one start while none was free)
hp_free() { [ "$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)" -ge 128 ]; }
pr_wait_for 10 hp_free || ce_fail "hugepages not freed by the stopped dataplane: $(grep -i huge /proc/meminfo | tr '\n' ' ')"
ip netns exec tu-pop "$DP" -c "$D/dp.conf" >>"$D/dp.out" 2>>"$D/dp.log" &
DP_PID=$!
pr_on_exit "kill $DP_PID 2>/dev/null"
pr_wait_for 30 $TEL $PREFIX /poprelay/info >/dev/null || ce_fail "the dataplane did not come back"
tel_is() { [ "$(tel /poprelay/tunables "$1")" = "$2" ]; }
pr_wait_for 5 tel_is turn.default_lifetime_s 300 ||
	ce_fail "the stored value is not in force after a restart"
out=$(turn alloc)
[ "$(jf lifetime "$out")" = 300 ] || ce_fail "after the restart: granted $out"
echo "ok: stored before the start, 300 s is in force from it"
pr_log "pass"
