#!/usr/bin/env bash
# parallel: heavy
# The Redis primary dies (kill -9) under media (issue 20, docs/scaling.md "Redis under
# Sentinel"): a primary, a replica and three sentinels (ACL users as redis_sentinel.sh has
# them) in namespace hr-a with a dataplane (net_af_packet on hra0, the media anchor on
# X = 198.51.100.10) and a slowpath ([redis] wait_replicas = 1) configured with the sentinels;
# two mpeer devices (SRTP both ways, libsrtp as the reference) in hr-c.
#   1  a call through the slowpath (ha/redis_call.py) with the replica up: the caller gets
#      the 200 with the anchor's SDP
#   2  session s1 installed through the stream; SRTP both ways through the dataplane; kill -9
#      of the primary 3 s in: the media never stops: at each device the longest silence is
#      at most 100 ms, no packet is refused (auth_fail, replay), at most 3 are lost (Redis is
#      not on the media path: the workers relay from their own tables while the control
#      lcore reconnects; the 3 are the margin for af_packet on a loaded 2-core machine)
#   3  the sentinels promote the replica; the dataplane follows it: s1's figures grow on the
#      new primary, and s2, installed there after the promotion, is relayed both ways with
#      its figures there too
#   T  a TURN client (ha_turn.py, ChannelData echoed by coturn's turnutils_peer) allocated on
#      X before the kill: the dataplane sent WAITs for it (the Allocate's success waits for
#      one replica), its allocation is on the promoted replica, and its data goes on
#      through the failover (no silence over 250 ms around it, at most 3 echoes missing)
#   4  a call with no replica left (the killed node was the only other one): the callee
#      answers, but its sessions' WAIT gets 0 of 1: the caller gets 503 with Retry-After,
#      the callee a BYE, the CDR says end_reason redis-wait (status 503, unanswered), the
#      sessions are ended and the slowpath logs it without the Redis password
# Seen failing first: 4 against the slowpath before the WAIT for session installs (the
# caller got 200 while no replica had the sessions); T's WAIT count with the dataplane's
# [redis] without wait_replicas (3 -> 3). 2 measured over the whole run failed on
# this 2-core machine loaded by other tests (silences of 130-430 ms at all four devices at
# once, far from the failover, and 6 packets lost once): the silence and the loss are
# therefore taken around the failover, from 0.5 s before the kill to 1 s after the
# dataplane's media connection is on the new primary; the run's longest silence and every
# hole in the sequence numbers are printed. Runs on that machine: 14-78 ms, 0 lost.
# Exits 0 (pass), 77 (skip), 1 (fail).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
source "$PR_ROOT/tests/integration/media/sessions.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
DP=$BUILD/poprelay-dataplane
MPEER=$BUILD/tests/integration/media/mpeer
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
CTL=$BUILD/poprelayctl
for b in "$DP" "$BUILD/poprelay-slowpath" "$MPEER" "$CTL"; do [ -x "$b" ] || pr_fail "$b not built"; done
command -v turnutils_peer >/dev/null || pr_skip "coturn's turnutils_peer not installed"
D=$(pr_tmpdir)
chmod 755 "$D"
X=198.51.100.10
IPA=198.51.100.21
IPB=198.51.100.22
CLI=198.51.100.20
PEER=203.0.113.5
TURN_PW='Hr-turn-pw-5528'
S80=AES_CM_128_HMAC_SHA1_80
DPP=hr-dp-$$
pr_netns hr-a
pr_netns hr-c
for ns in hr-a hr-c; do
	ip netns exec $ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
done
pr_veth hr-a hra0 hr-c hrc0
ip -n hr-c addr add $IPA/24 dev hrc0
ip -n hr-c addr add $IPB/24 dev hrc0
ip -n hr-c addr add $CLI/24 dev hrc0
ip -n hr-c addr add $PEER/32 dev hrc0
A() { ip netns exec hr-a "$@"; }

# Redis and the sentinels on hr-a's own loopback: fixed ports, nothing else is there
P1=6391 P2=6392 S1=26391 S2=26392 S3=26393
RS_NS=hr-a
source "$PR_ROOT/tests/integration/ha/sentinels.sh"
rs_secrets "$D/redis.pass"
rc() { rs_cli "$@"; } # rc PORT args...: redis-cli in hr-a as admin
rs_node 1 $P1
rs_node 2 $P2 $P1
rs_linked $P2 10
rs_sentinels $P1 $S1 $S2 $S3
primary() { rs_primary_port; }
PRIM=$P1
ms_redis() { rc $PRIM "$@"; }
REDIS_CONF="[redis]
sentinels = 127.0.0.1:$S1, 127.0.0.1:$S2, 127.0.0.1:$S3
master_name = poprelay
wait_replicas = 1
wait_timeout_ms = 500
password_file = $D/redis.pass"

# two users, as poprelayctl writes them
now=$(date +%s)
for i in 0 1; do
	md5=$(printf '%s' "u$i:poprelay:tq7-Vortex-u$i" | md5sum | cut -d' ' -f1)
	sha=$(printf '%s' "u$i:poprelay:tq7-Vortex-u$i" | sha256sum | cut -d' ' -f1)
	echo "HSET pr:user:u$i v 1 name u$i realm poprelay ha1_md5 $md5 ha1_sha256 $sha uri sip:u$i@poprelay pop pop1 created $now updated $now"
	echo "SADD pr:users u$i"
done | rc $P1 >/dev/null || pr_fail "adding users"

# the dataplane: the media anchor on X, its [redis] the sentinels
cat >"$D/dp.conf" <<EOC
[global]
realm = hr.example
[eal]
lcores = 0-1
memory_mb = 256
huge = no
file_prefix = $DPP
[dataplane]
mbuf_pool_size = 8191
mbuf_cache_size = 64
worker_idle_sleep_us = 20
$REDIS_CONF
user = dataplane
[port0]
device = net_af_packet0,iface=hra0,qpairs=2
ipv4 = $X/24
gateway4 = $CLI
[turn]
relay_port_min = 50000
relay_port_max = 50999
allowed_peer = 203.0.113.0/24
nonce_secret_file = $D/nonce.key
counters_sync_s = 1
[media]
port_min = 31000
port_max = 31999
group = dp-hr
consumer = dp-hr
stats_interval_ms = 500
dtls_socket = off
EOC
printf '%s\n' "$TURN_PW" | A "$CTL" -c "$D/dp.conf" user add alice >"$D/ctl.out" 2>&1 ||
	pr_fail "poprelayctl user add through the sentinels: $(cat "$D/ctl.out")"
# not through A(): a function run in the background is a subshell, and $! would be its pid,
# not the dataplane's (killed at exit, it left the dataplane running, orphaned)
ip netns exec hr-a "$DP" -c "$D/dp.conf" >"$D/dp.out" 2>"$D/dp.log" &
DP_PID=$!
pr_on_exit "kill -9 $DP_PID 2>/dev/null; rm -rf /var/run/dpdk/$DPP"
pr_wait_for 30 sh -c "$TEL $DPP /poprelay/media/stats | grep -q '\"redis_up\": 1'" ||
	{ tail -20 "$D/dp.log" >&2; pr_fail "the dataplane did not come up"; }
for d in $IPA $IPB; do ip netns exec hr-c ping -c 1 -W 2 -I $d $X >/dev/null || pr_fail "$d cannot reach X"; done

# the slowpath in hr-a, anchoring calls on X (ports 31000-31099; s1 and s2 use 318xx)
sp_certs "$D"
sp_config "$D" 5061 5060 "rate_limit_rps = 0" "media_addr = $X" "media_ports = 31000-31099"
python3 - "$D/sp.conf" "$REDIS_CONF
user = slowpath" <<'PY'
import re, sys
p, red = sys.argv[1], sys.argv[2]
s = open(p).read()
s = re.sub(r"\[redis\]\nsocket = .*\n", red + "\n", s)
s = re.sub(r"(?m)^media_addr = 127\.0\.0\.1\n", "", s)
open(p, "w").write(s)
PY
SP_NETNS=hr-a sp_start "$D"
grep -qF "$SP_PW" "$D/sp.log" "$D/dp.log" && pr_fail "the Redis password is in a log"

# -- 1. calls with the replica up (then, in 4, with none)
ip netns exec hr-a timeout 120 python3 "$PR_ROOT/tests/integration/ha/redis_call.py" 5061 "$D" >"$D/calls.out" 2>&1 &
CALLS=$!
pr_on_exit "kill $CALLS 2>/dev/null"
pr_wait_for 30 test -s "$D/call1" || { cat "$D/calls.out" >&2; tail -5 "$D/sp.log" >&2; pr_fail "call 1"; }
pr_log "ok: 1  a call through the slowpath with the replica up: 200 with the anchor's SDP"

# -- T. a TURN allocation, acknowledged after WAIT
waits() { rc $P1 INFO commandstats | sed -n 's/^cmdstat_wait:calls=\([0-9]*\),.*/\1/p' | tr -d '\r'; }
sleep 0.5 # call 1's BYE and its CDR: no slowpath write while the client allocates
W0=$(waits)
ip netns exec hr-c turnutils_peer -L $PEER -p 3480 >"$D/peer.log" 2>&1 &
pr_on_exit "kill $! 2>/dev/null"
sleep 0.3
mkdir "$D/c"
ip netns exec hr-c python3 "$PR_ROOT/tests/integration/ha_turn.py" --server $X:3478 \
	--user alice --password "$TURN_PW" --peer $PEER:3480 --dir "$D/c" >"$D/c/out" 2>&1 &
TC=$!
pr_on_exit "kill $TC 2>/dev/null"
pr_wait_for 10 grep -q allocated "$D/c/out" || pr_fail "no TURN allocation: $(cat "$D/c/out")"
trx() { python3 -c "import json; print(json.load(open('$D/c/state.json'))['rx'])" 2>/dev/null || echo 0; }
pr_wait_for 5 sh -c "[ \$(python3 -c \"import json; print(json.load(open('$D/c/state.json'))['rx'])\" 2>/dev/null || echo 0) -gt 20 ]" ||
	pr_fail "no TURN data relayed"
W1=$(waits)
alloc=$(rc $P1 ZRANGE pr:turn:allocs 0 -1)
[ "$(echo "$alloc" | grep -c .)" = 1 ] || pr_fail "TURN allocations on the primary: '$alloc'"
[ "$((W1 - W0))" -ge 1 ] || pr_fail "no WAIT on the primary while the TURN client allocated ($W0 -> $W1)"
pr_log "ok: T  TURN allocation $alloc acknowledged after $((W1 - W0)) WAIT(s); ChannelData echoed"

# -- 2. SRTP both ways through the anchor; the primary killed under it
KA_RX=$(ms_key $S80) KA_TX=$(ms_key $S80) KB_RX=$(ms_key $S80) KB_TX=$(ms_key $S80)
MS_RELAY=$X ms_store install s1 "peer=$IPA:41000 relay=31800 suite=$S80 rx=$KA_RX tx=$KA_TX" \
	"peer=$IPB:41002 relay=31802 suite=$S80 rx=$KB_RX tx=$KB_TX" || pr_fail "s1 refused by redis"
sess() { $TEL $DPP "/poprelay/media/session,$1"; }
pr_wait_for 5 sh -c "$TEL $DPP /poprelay/media/session,s1 | grep -q '\"id\"'" || pr_fail "the dataplane did not install s1"
# mp NAME IP:PORT RELAY_PORT TX RX ID PEER_ID COUNT [args]: an mpeer device in hr-c
mp() {
	ip netns exec hr-c "$MPEER" --bind $2 --to $X:$3 --suite $S80 --tx-key "$4" --rx-key "$5" \
		--id $6 --expect-id $7 --count $8 --rate 100 --start-delay-ms 200 --linger-ms 500 \
		--dump-rx "$D/$1-rx.pcap" "${@:9}" >"$D/$1.json" 2>"$D/$1.err" &
	pr_on_exit "kill $! 2>/dev/null"
}
mp a1 $IPA:41000 31800 "$KA_RX" "$KA_TX" A B 1400 --ssrc 0x0a000001 --rtcp-every 25
pa=$!
mp b1 $IPB:41002 31802 "$KB_RX" "$KB_TX" B A 1400 --ssrc 0x0b000001 --rtcp-every 25
pb=$!
sleep 3
t_kill=$(date +%s.%N)
kill -9 "$(cat "$D/n1/redis.pid")"
pr_log "killed the primary (127.0.0.1:$P1)"

# -- 3. the promotion; the dataplane on the new primary
named() { [ "$(primary)" = "$1" ]; }
pr_wait_for 20 named $P2 ||
	pr_fail "the sentinels did not promote 127.0.0.1:$P2"
t_prom=$(date +%s.%N)
PRIM=$P2
# the dataplane's media connection on the new primary: its sessions rebuilt from there
pr_wait_for 10 sh -c "[ \$(grep -c 'sessions live after the rebuild' '$D/dp.log') -ge 2 ]" ||
	{ grep -v debug "$D/dp.log" | tail -5 >&2; pr_fail "the dataplane's media did not reconnect to the new primary"; }
t_follow=$(date +%s.%N)
# s1's figures (stats_interval_ms 500) written on the new primary, and growing
f() { rc $P2 HGET pr:session:$1 $2; }
n0=$(f s1 a_rx_packets)
grew() { [ "$(f s1 a_rx_packets)" -gt "${n0:-0}" ]; }
pr_wait_for 10 grew ||
	{ grep -i redis "$D/dp.log" | tail -5 >&2; pr_fail "s1's figures not written on the new primary (a_rx_packets stays $n0)"; }
n1=$(f s1 a_rx_packets)
[ "$(rc $P2 EXISTS pr:turn:alloc:$alloc)" = 1 ] && [ -n "$(rc $P2 ZSCORE pr:turn:allocs $alloc)" ] ||
	pr_fail "TURN allocation $alloc is not on the promoted replica"
n=$(trx)
pr_wait_for 3 sh -c "[ \$(python3 -c \"import json; print(json.load(open('$D/c/state.json'))['rx'])\") -gt $n ]" ||
	pr_fail "TURN data stopped after the promotion (rx $n)"
pr_log "ok: T  the TURN allocation is on the promoted replica, its data goes on (rx $n -> $(trx))"
pr_log "ok: 3  promoted 127.0.0.1:$P2 $(python3 -c "print('%.1f' % ($t_prom - $t_kill))") s after the kill; s1's figures grow there ($n0 -> $n1)"
K2A_RX=$(ms_key $S80) K2A_TX=$(ms_key $S80) K2B_RX=$(ms_key $S80) K2B_TX=$(ms_key $S80)
MS_RELAY=$X ms_store install s2 "peer=$IPA:41010 relay=31810 suite=$S80 rx=$K2A_RX tx=$K2A_TX" \
	"peer=$IPB:41012 relay=31812 suite=$S80 rx=$K2B_RX tx=$K2B_TX" || pr_fail "s2 refused by the new primary"
pr_wait_for 5 sh -c "$TEL $DPP /poprelay/media/session,s2 | grep -q '\"id\"'" ||
	pr_fail "the dataplane did not install s2 from the new primary"
mp a2 $IPA:41010 31810 "$K2A_RX" "$K2A_TX" C D 300 --ssrc 0x0a000002
pa2=$!
mp b2 $IPB:41012 31812 "$K2B_RX" "$K2B_TX" D C 300 --ssrc 0x0b000002
pb2=$!
for p in $pa $pb $pa2 $pb2; do wait $p || { cat "$D"/*.err >&2; pr_fail "an mpeer device failed"; }; done
sleep 0.6
for l in a b; do
	[ "$(f s2 ${l}_rx_packets)" -gt 250 ] && [ "$(f s2 ${l}_auth_fail)" = 0 ] ||
		pr_fail "s2's leg $l on the new primary: rx $(f s2 ${l}_rx_packets), auth_fail $(f s2 ${l}_auth_fail)"
done
python3 - "$D" "$t_kill" "$t_follow" <<'PY' || pr_fail "the devices' view (above)"
import json, os, struct, sys
D, t_kill, t_follow = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])

def packets(path):
    """(arrival time, RTP sequence number or None for RTCP) of each datagram received
    (LINKTYPE_RAW: IPv4, UDP, then the packet; its RTP header is in the clear)."""
    b = open(path, "rb").read()
    out, pos = [], 24
    while pos + 16 <= len(b):
        sec, usec, incl = struct.unpack("<III", b[pos:pos + 12])
        p = b[pos + 16:pos + 16 + incl]
        rtp = p[28:]
        seq = None if len(rtp) < 4 or 200 <= rtp[1] <= 204 else struct.unpack(">H", rtp[2:4])[0]
        out.append((sec + usec / 1e6, seq))
        pos += 16 + incl
    return out

def losses(pk):
    """(arrival time of the packet after the hole, packets missing) for each hole."""
    out, last = [], None
    for t, seq in pk:
        if seq is None:
            continue
        if last is not None and (seq - last) & 0xffff > 1 and (seq - last) & 0xffff < 0x8000:
            out.append((t, ((seq - last) & 0xffff) - 1))
        last = seq
    return out

GAP_MS, LOST = 100, 3
ok = True
for dev, want in (("a1", 1300), ("b1", 1300), ("a2", 280), ("b2", 280)):
    j = json.load(open(os.path.join(D, dev + ".json")))
    pk = packets(os.path.join(D, dev + "-rx.pcap"))
    t = [x[0] for x in pk]
    gaps = [(b - a, a) for a, b in zip(t, t[1:])]
    g = max(gaps, default=(float("inf"), t_kill))
    # the failover: from just before the kill to 1 s after the dataplane's media connection
    # was on the new primary (its sessions rebuilt); the run's longest silence is printed
    # too (a loaded machine stalls every process now and then, failover or not)
    fo = [x[0] for x in gaps if x[1] + x[0] > t_kill - 0.5 and x[1] < t_follow + 1.0]
    gap = max(fo, default=0) * 1000  # (s2's devices started after the window)
    after = len([x for x in t if x > t_kill])
    holes = losses(pk)
    lost_all = sum(s.get("lost", 0) for s in j["rx_ssrcs"].values())
    lost = sum(n for at, n in holes if t_kill - 0.5 < at < t_follow + 1.0)
    print("device %s: %d packets (%d after the kill), longest silence around the failover "
          "%.0f ms (over the run %.0f ms, from %+.2f s after the kill), lost %d around it (%d "
          "over the run: %s), auth_fail %d, replay %d" % (
              dev, len(t), after, gap, g[0] * 1000, g[1] - t_kill, lost, lost_all,
              ", ".join("%d at %+.2f s" % (n, at - t_kill) for at, n in holes) or "none",
              j["auth_fail"], j["replay"]), file=sys.stderr)
    if j["auth_fail"] or j["replay"] or j["srtp_other"] or j["payload_bad"] or j["wrong_sender"]:
        print("FAIL: device %s refused packets: %s" % (dev, j), file=sys.stderr); ok = False
    if len(t) < want or lost > LOST:
        print("FAIL: device %s: %d packets (want >= %d), %d lost around the failover (want <= %d)" % (
            dev, len(t), want, lost, LOST), file=sys.stderr); ok = False
    if dev.endswith("1") and (gap > GAP_MS or after < 1000):
        print("FAIL: device %s: %.0f ms of silence around the failover (want <= %d), %d "
              "packets after the kill" % (
            dev, gap, GAP_MS, after), file=sys.stderr); ok = False
sys.exit(0 if ok else 1)
PY
pr_log "ok: 2  the primary killed under SRTP both ways: no silence over 100 ms, nothing refused, <= 3 lost"
pr_log "ok: 3  s2, installed on the new primary, relayed both ways, its figures there"

touch "$D/c/stop"
pr_wait_for 5 grep -q '"gaps"' "$D/c/out" || pr_fail "the TURN client did not stop"
python3 - "$D/c/out" "$t_kill" "$t_follow" <<'PY' || pr_fail "the TURN client's view (above)"
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if '"gaps"' in l][-1]
t_kill, t_follow = float(sys.argv[2]), float(sys.argv[3])
near = [g for g in s["gaps"] if g[1] > t_kill - 0.5 and g[0] < t_follow + 1.0]
print("TURN client: sent %d, received %d, missing %d, silences over 100 ms around the "
      "failover %s, over the run %s" % (s["sent"], s["received"], s["missing"], near, s["gaps"]),
      file=sys.stderr)
# the client's own 100 ms threshold; 250 ms: a Python client's 20 ms send timer on a loaded
# 2-core machine (silences of 100-200 ms seen far from the failover)
sys.exit(1 if any(g[2] > 250 for g in near) or s["missing"] > 3 else 0)
PY

# -- 4. no replica left: a call's sessions cannot reach one
touch "$D/go"
wait $CALLS || { cat "$D/calls.out" >&2; grep -v debug "$D/sp.log" | tail -8 >&2; pr_fail "calls through the slowpath (above)"; }
cdr=$(for id in $(rc $P2 ZRANGE pr:cdrs 0 -1); do
	[ "$(rc $P2 HGET pr:cdr:$id end_reason)" = redis-wait ] && echo $id
done)
[ "$(echo "$cdr" | grep -c .)" = 1 ] || pr_fail "CDRs with end_reason redis-wait: '$cdr' (expected one)"
[ "$(rc $P2 HGET pr:cdr:$cdr sip_status)" = 503 ] && [ "$(rc $P2 HGET pr:cdr:$cdr answer)" = 0 ] ||
	pr_fail "CDR $cdr: $(rc $P2 HGETALL pr:cdr:$cdr | tr '\n' ' ')"
[ "$(rc $P2 SISMEMBER pr:sessions $cdr-0)" = 0 ] && [ "$(rc $P2 EXISTS pr:session:$cdr-0)" = 0 ] ||
	pr_fail "the failed call's session $cdr-0 was not ended"
grep -q "call $cdr: its media sessions did not reach the replicas (redis WAIT: 0 of 1 replicas acknowledged within 500 ms): answering the caller 503" "$D/sp.log" ||
	pr_fail "no log line for the call whose WAIT fell short"
grep -qF "$SP_PW" "$D/sp.log" "$D/dp.log" && pr_fail "the Redis password is in a log"
kill -0 $DP_PID && kill -0 $SP_PID || pr_fail "the dataplane or the slowpath died"
pr_log "ok: 4  no replica: the answered call failed cleanly (503 + Retry-After to the caller, BYE to the callee, CDR redis-wait, sessions ended)"
echo PASS
