#!/usr/bin/env bash
# parallel: hugepages
# Past one box (docs/scaling.md): a slowpath with [sip] media_anchors = any anchors each new
# call on a live dataplane of the PoP, the least loaded, from the health and load each
# dataplane publishes in Redis (pr:media:anchor:<address>, a lease of [media_load]
# lease_ms). Two dataplanes A (X = 198.51.100.10) and B (Y = .11), no [ha] between them, one
# Redis, one slowpath; the SIP devices are tests/integration/slowpath/sipclient.py over TLS
# (tests/integration/media/spread.py), the media devices mpeer (SRTP, libsrtp).
#   1. both live: 4 calls up at once are spread over X and Y (both legs' SDP and the session
#      record name the call's anchor); a re-INVITE of a call on Y stays on Y; each call's
#      SRTP is relayed both ways, intact, by its own dataplane; neither dataplane refuses or
#      reports the other's sessions (elsewhere_skipped counts them);
#   2. kill -9 of B: once its lease expired (at most lease_ms), 4 new calls all go to X and
#      are relayed there;
#   3. kill -9 of A too: a new call is refused 503 (Warning "no live media anchor") and its
#      CDR ends with end_reason no-anchor.
# MS_TODAY=1 configures the slowpath as before this feature (media_addr = X, no
# media_anchors): step 1 must then fail (every call on X).
# Topology (haenv.sh): NS-a, NS-b the dataplanes' ports on one bridge with NS-c, which holds
# the slowpath (.2) and both devices (alice .21, bob .22). Exit 0 pass, 77 skip, 1 fail.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/ha/haenv.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
he_init ms ms-a ms-b
HE_READY=/poprelay/media/stats
MPEER=$BUILD/tests/integration/media/mpeer
for b in "$BUILD/poprelay-slowpath" "$MPEER"; do [ -x "$b" ] || pr_fail "$b not built"; done
SP_ADDR=198.51.100.2
ALICE=198.51.100.21
BOB=198.51.100.22
LEASE_MS=1500
he_topology $SP_ADDR/24 $ALICE/24 $BOB/24

dump() {
	local f
	for f in a.log b.log sp.log; do
		[ -s "$tmp/$f" ] || continue
		echo "--- tail of $f" >&2
		tail -n 25 "$tmp/$f" >&2
	done
	for n in a b; do
		$TEL ms-$n /poprelay/media/stats /poprelay/media/load >&2 2>&1 || true
	done
}
fail() {
	dump
	pr_fail "$*"
}
mload() { # NAME FIELD: a field of NAME's /poprelay/media/load (or media/stats)
	$TEL ms-$1 /poprelay/media/load /poprelay/media/stats | python3 -c "
import json, sys
d = json.load(sys.stdin)
print({**d['/poprelay/media/stats'], **d['/poprelay/media/load']}['$2'])"
}

for n in a b; do
	own=$X
	[ $n = b ] && own=$Y
	{
		he_conf $n $own $X | sed '/^\[ha\]$/,$d'
		cat <<CONF
[media]
port_min = 31000
port_max = 31999
group = dp-$n
consumer = dp-$n
stats_interval_ms = 500
dtls_socket = off
[media_load]
lease_ms = $LEASE_MS
CONF
	} >"$tmp/$n.conf"
	"$DP" -c "$tmp/$n.conf" --check-config >"$tmp/check.out" 2>&1 ||
		pr_fail "dataplane $n refuses its configuration: $(cat "$tmp/check.out")"
done
# a bad [media_load] value is refused naming the key
sed 's/^lease_ms = .*/lease_ms = 50/' "$tmp/a.conf" >"$tmp/bad.conf"
"$DP" -c "$tmp/bad.conf" --check-config >"$tmp/bad.out" 2>&1 && pr_fail "lease_ms = 50 accepted"
grep -q "media_load.*lease_ms" "$tmp/bad.out" || pr_fail "lease_ms = 50 refused without naming it: $(cat "$tmp/bad.out")"
he_start_dp a
he_start_dp b
pr_wait_for 5 sh -c "[ \"\$(redis-cli -s $tmp/redis.sock EXISTS pr:media:anchor:$X pr:media:anchor:$Y)\" = 2 ]" ||
	fail "the dataplanes did not publish pr:media:anchor:$X and :$Y"
ttl=$(rcli PTTL pr:media:anchor:$X)
[ "$ttl" -gt 0 ] && [ "$ttl" -le $LEASE_MS ] || fail "pr:media:anchor:$X has PTTL $ttl, expected 1-$LEASE_MS"
[ "$(rcli HGET pr:media:anchor:$Y capacity)" = 16384 ] || fail "B's capacity is not [media] max_sessions"
echo "ok: both dataplanes publish their load under a $LEASE_MS ms lease"

sp_certs "$tmp"
SP_NETNS=ms-c
if [ "${MS_TODAY:-0}" = 1 ]; then
	sp_config "$tmp" 5061 5060
	sed -i "s|^media_addr = .*|media_addr = $X|" "$tmp/sp.conf"
else
	# a bad value is refused naming the key
	sp_config "$tmp" 5061 5060 "media_anchors = $X, nowhere"
	"$BUILD/poprelay-slowpath" -c "$tmp/sp.conf" --check-config >"$tmp/bad.out" 2>&1 &&
		pr_fail "media_anchors = $X, nowhere accepted"
	grep -q "media_anchors" "$tmp/bad.out" || pr_fail "a bad media_anchors refused without naming it: $(cat "$tmp/bad.out")"
	sp_config "$tmp" 5061 5060 "media_anchors = any"
fi
sp_start "$tmp"
sp_user_add "$tmp" alice "$SP_PW_alice"
sp_user_add "$tmp" bob "$SP_PW_bob"
spread() { ip netns exec ms-c timeout 120 python3 "$PR_ROOT/tests/integration/media/spread.py" "$tmp" $SP_ADDR $ALICE $BOB "$MPEER" "$@"; }

# 1. both live
spread 4 --want $X,$Y --reinvite >"$tmp/p1.out" 2>&1 || { cat "$tmp/p1.out" >&2; fail "calls not spread over both live dataplanes"; }
grep "^anchors:\|^relayed:" "$tmp/p1.out"
for n in a b; do
	[ "$(mload $n refused)" = 0 ] && [ "$(mload $n restore_orphaned)" = 0 ] ||
		fail "dataplane $n refused or reported the other's sessions"
	[ "$(mload $n elsewhere_skipped)" -gt 0 ] || fail "dataplane $n skipped none of the other's sessions"
done
echo "ok: each dataplane left the other's sessions alone (skipped: A $(mload a elsewhere_skipped), B $(mload b elsewhere_skipped))"

# 2. B dies: new calls all on A once its lease is gone
kill -9 $pid_b
t0=$(date +%s%N)
pr_wait_for 5 sh -c "[ \"\$(redis-cli -s $tmp/redis.sock EXISTS pr:media:anchor:$Y)\" = 0 ]" ||
	fail "B's lease did not expire"
echo "ok: B's lease gone $((($(date +%s%N) - t0) / 1000000)) ms after its kill"
relayed0=$(mload a relayed)
spread 4 --want $X >"$tmp/p2.out" 2>&1 || { cat "$tmp/p2.out" >&2; fail "calls after B's death not all on A"; }
grep "^anchors:\|^relayed:" "$tmp/p2.out"
[ "$(mload a relayed)" -gt "$relayed0" ] || fail "A relayed nothing more"

# 3. none live: refused cleanly
kill -9 $pid_a
pr_wait_for 5 sh -c "[ \"\$(redis-cli -s $tmp/redis.sock EXISTS pr:media:anchor:$X)\" = 0 ]" ||
	fail "A's lease did not expire"
spread 1 --refused >"$tmp/p3.out" 2>&1 || { cat "$tmp/p3.out" >&2; fail "a call with no live anchor"; }
cdr=$(rcli ZREVRANGE pr:cdrs 0 0)
[ "$(rcli HGET pr:cdr:$cdr end_reason)" = no-anchor ] && [ "$(rcli HGET pr:cdr:$cdr sip_status)" = 503 ] ||
	fail "the refused call's CDR: $(rcli HGETALL pr:cdr:$cdr | tr '\n' ' ')"
[ "$(rcli SCARD pr:sessions)" = 0 ] || fail "sessions left: $(rcli SMEMBERS pr:sessions)"
echo "ok: with no live dataplane a call is refused 503, CDR end_reason no-anchor"
echo PASS
