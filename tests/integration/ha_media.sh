#!/usr/bin/env bash
# Media sessions survive the loss of an appliance (docs/scaling.md, "Appliances N+1"): the
# topology of ha_takeover.sh with the media anchor on both dataplanes. A owns X =
# 198.51.100.10 and is the backup of B's Y = .11; B has X as its [ha] peer address; each
# reads the session stream with its own consumer group ([media] group). Sessions are written
# into Redis as the slowpath writes them (media/sessions.sh); the two devices (mpeer, SRTP
# both ways, libsrtp as the reference) are 198.51.100.21 and .22 in hm-c. Scenarios:
#   a  B, started after A's session s1 exists, neither relays, ends nor reports it (it
#      reported it as an orphan, `relay-address`, before); a session installed on X while
#      both run (s2) is A's alone, one on Y (s3) is B's alone: each skips the other's and
#      follows it (ha_following: B 2, A 1)
#   b  SRTP both ways through A, leg a's stream past its sequence wrap (ROC 1); kill -9 of A
#      and its port down; poprelayctl ha takeover on B: B rebuilds A's sessions from their
#      hashes (ha_taken 2) and the media flows again both ways with the same keys, no
#      re-INVITE: each device decrypts what B sends with its own context (B's send contexts
#      resume the index), B decrypts both devices (its receive contexts resume the rollover
#      counter), auth_fail 0 at both devices and at B; packets captured in the first second
#      and replayed to B are refused (media_replay). The gap at each device is printed (the
#      last packet before the kill to the first after; the share after the takeover was asked)
#   c  poprelayctl ha release: B stops relaying s1 and s2 without ending them (their hashes
#      and pr:sessions stay, no pr:sessions:events entry) and follows them again; B keeps s3
#   d  failback (docs/scaling.md, "Split brain and failback"): B takes X over again (A's
#      lease gone: at once) and relays s1 to two new devices (the same keys, leg a's stream
#      on past its wrap, ROC 1); A restarts: it relays none of its sessions while B holds X
#      (not live on A, nothing reported); poprelayctl ha failback on A: B releases, A loads
#      s1 from the hash B left and relays it both ways, each device decrypting with the
#      contexts it had (auth_fail and replay 0 at the devices and at A), near hitless: at
#      most 100 ms of silence and 5 packets lost at each device. Seen failing
#      without the media hook (ha_own_change): A kept s1 and s2 live while B held X
# The takeover installs the followed sessions without a Redis read: no SMEMBERS nor HGETALL
# reaches Redis while it runs (INFO commandstats; the reading path does both).
# Seen failing first: without the media takeover hook, b fails (nothing through B).
# Exits 0 (pass), 77 (skip), 1 (fail).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ha/haenv.sh"
he_init hm hm-a hm-b
HE_READY=/poprelay/media/stats
HE_READY_S=30
MPEER=$BUILD/tests/integration/media/mpeer
H=$PR_ROOT/tests/integration/media
[ -x "$MPEER" ] || pr_fail "$MPEER not built"
PY=/usr/bin/python3 # Debian's, with python3-scapy (the replay in b; skipped without it)
IPA=198.51.100.21
IPB=198.51.100.22
S80=AES_CM_128_HMAC_SHA1_80

ms_redis() { rcli "$@"; }
. "$H/sessions.sh"
he_topology $IPA/24 $IPB/24

# conf NAME OWN PEER_ADDR
conf() {
	he_conf $1 $2 $3
	cat <<CONF
lease_ms = 500
[turn]
enabled = no
[media]
port_min = 31000
port_max = 31199
group = dp-$1
consumer = dp-$1
stats_interval_ms = 500
dtls_socket = off
CONF
}
conf a $X $Y >"$tmp/a.conf"
conf b $Y $X >"$tmp/b.conf"

# mstat NAME COUNTER: one counter of NAME's /poprelay/media/stats
mstat() { $TEL hm-$1 /poprelay/media/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/media/stats']['$2'])"; }
sess() { $TEL hm-$1 "/poprelay/media/session,$2"; }
live() { sess "$1" "$2" | grep -q '"id"'; }
# leg NAME ID LEG FIELD: one figure of a session's leg on NAME
leg() { sess "$1" "$2" | python3 -c "import json,sys; d=json.load(sys.stdin); print(d[next(iter(d))]['$3']['$4'])"; }
events() { rcli XLEN pr:sessions:events; }

# a: A relays s1; B, started after it, leaves it alone; s2 (X) and s3 (Y) each to their owner
he_start_dp a
for d in $IPA $IPB; do ip netns exec hm-c ping -c 1 -W 2 -I $d $X >/dev/null || pr_fail "$d cannot reach X"; done
KA_RX=$(ms_key $S80) KA_TX=$(ms_key $S80) KB_RX=$(ms_key $S80) KB_TX=$(ms_key $S80)
MS_RELAY=$X ms_store install s1 "peer=$IPA:41000 relay=31000 suite=$S80 rx=$KA_RX tx=$KA_TX" \
	"peer=$IPB:41002 relay=31002 suite=$S80 rx=$KB_RX tx=$KB_TX" || pr_fail "s1 refused by redis"
pr_wait_for 5 live a s1 || pr_fail "A did not install s1"
he_start_dp b
MS_RELAY=$X ms_store install s2 "peer=$IPA:41010 relay=31010" "peer=$IPB:41012 relay=31012" ||
	pr_fail "s2 refused by redis"
MS_RELAY=$Y ms_store install s3 "peer=$IPA:41020 relay=31020" "peer=$IPB:41022 relay=31022" ||
	pr_fail "s3 refused by redis"
pr_wait_for 5 live a s2 || pr_fail "A did not install s2"
pr_wait_for 5 live b s3 || pr_fail "B did not install s3"
sleep 0.5
live b s1 && pr_fail "B relays A's s1"
live b s2 && pr_fail "B relays A's s2"
live a s3 && pr_fail "A relays B's s3"
[ "$(events)" = 0 ] || pr_fail "sessions reported to end: $(rcli XRANGE pr:sessions:events - +)"
for n in a b; do
	[ "$(mstat $n refused)" = 0 ] && [ "$(mstat $n restore_orphaned)" = 0 ] ||
		pr_fail "$n refused $(mstat $n refused), orphaned $(mstat $n restore_orphaned) of its peer's sessions"
done
[ "$(mstat b peer_skipped)" -ge 2 ] && [ "$(mstat a peer_skipped)" -ge 1 ] ||
	pr_fail "peer_skipped: a $(mstat a peer_skipped), b $(mstat b peer_skipped)"
[ "$(mstat a sessions)" = 2 ] && [ "$(mstat b sessions)" = 1 ] ||
	pr_fail "sessions: a $(mstat a sessions), b $(mstat b sessions); expected 2 and 1"
[ "$(mstat b ha_following)" = 2 ] && [ "$(mstat a ha_following)" = 1 ] ||
	pr_fail "ha_following: a $(mstat a ha_following), b $(mstat b ha_following); expected 1 and 2"
grep -q "no longer ours" "$tmp/b.log" && pr_fail "B took s1 for an orphan: $(grep 'no longer ours' "$tmp/b.log")"
pr_log "ok: a  B started after s1 left it to A (no end, no relay-address report); s2 on X is A's, s3 on Y is B's"

# b: SRTP both ways through A; kill -9 of A; takeover on B
# leg a's SSRC from seq 65300: past its wrap after 2.4 s at 100 packets/s, before the kill
ip netns exec hm-c "$MPEER" --bind $IPA:41000 --to $X:31000 --suite $S80 --tx-key "$KA_RX" \
	--rx-key "$KA_TX" --id A --expect-id B --ssrc 0x0a000001 --seq 65300 --count 1100 \
	--rate 100 --rtcp-every 25 --start-delay-ms 200 --linger-ms 500 \
	--dump-tx "$tmp/a-tx.pcap" --dump-rx "$tmp/a-rx.pcap" >"$tmp/a.json" 2>"$tmp/a.err" &
pa=$!
pr_on_exit "kill $pa 2>/dev/null"
ip netns exec hm-c "$MPEER" --bind $IPB:41002 --to $X:31002 --suite $S80 --tx-key "$KB_RX" \
	--rx-key "$KB_TX" --id B --expect-id A --ssrc 0x0b000001 --seq 2000 --count 1100 \
	--rate 100 --rtcp-every 25 --start-delay-ms 200 --linger-ms 500 \
	--dump-tx "$tmp/b-tx.pcap" --dump-rx "$tmp/b-rx.pcap" >"$tmp/b.json" 2>"$tmp/b.err" &
pb=$!
pr_on_exit "kill $pb 2>/dev/null"
sleep 4
[ "$(leg a s1 a rx_packets)" -gt 300 ] && [ "$(leg a s1 b rx_packets)" -gt 300 ] ||
	pr_fail "media not flowing through A before the kill: $(sess a s1)"
t_kill=$(date +%s.%N)
kill -9 $pid_a
ip -n hm-a link set hma0 down
sleep 1 # past A's lease ([ha] lease_ms = 500): the takeover is not deferred
# reads: SMEMBERS and HGETALL calls so far (B alone is connected now)
reads() { rcli INFO commandstats | awk -F'[:=,]' '/^cmdstat_(smembers|hgetall):/ {n += $3} END {print n + 0}'; }
r0=$(reads)
t_take=$(date +%s.%N)
ha b takeover >"$tmp/takeover.out" || pr_fail "ha takeover: $(cat "$tmp/takeover.out")"
r1=$(reads)
grep -q "took over $X" "$tmp/takeover.out" || pr_fail "takeover said: $(cat "$tmp/takeover.out")"
[ "$(mstat b ha_taken)" = 2 ] || { tail -5 "$tmp/b.log" >&2; pr_fail "B took over $(mstat b ha_taken) sessions, expected 2 (s1, s2)"; }
live b s1 && live b s2 || pr_fail "s1 or s2 not live on B after the takeover"
[ "$r1" = "$r0" ] || pr_fail "the takeover read Redis: SMEMBERS + HGETALL calls $r0 -> $r1"
grep -q "taken over from the standby" "$tmp/b.log" || pr_fail "B did not take over from its standby: $(grep 'taken over' "$tmp/b.log")"
sleep 2.5
S_B=$(sess b s1)
python3 - "$S_B" <<'PY' || pr_fail "media not relayed by B both ways after the takeover: $S_B"
import json, sys
d = json.loads(sys.argv[1]); d = d[next(iter(d))]
# figures go on from A's (the restart path): over 2 s of B's own at 100/s each way
assert d["a"]["rx_packets"] > 500 and d["b"]["rx_packets"] > 500, d
assert d["a"]["auth_fail"] == 0 and d["b"]["auth_fail"] == 0, d
PY
# packets leg a's device sent in its first second, replayed to B from the device's own
# address: refused, not relayed (far behind the index: this does not tell a restored replay
# window from a fresh one; the ROC and the devices' auth_fail do tell the state came over)
replay=skipped
if $PY -c 'import scapy.all' 2>/dev/null; then
	r0=$($TEL hm-b /poprelay/drops | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/drops'].get('media_replay', 0))")
	ip netns exec hm-c $PY "$H/inject.py" hmc0 "$MAC_B" replay,$tmp/a-tx.pcap,20 \
		replay,$tmp/a-tx.pcap,60 >/dev/null 2>"$tmp/inject.err" || pr_fail "inject.py: $(cat "$tmp/inject.err")"
	sleep 0.3
	r1=$($TEL hm-b /poprelay/drops | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/drops'].get('media_replay', 0))")
	[ "$((r1 - r0))" = 2 ] || pr_fail "B's media_replay drops went $r0 -> $r1 for 2 packets replayed from before the kill"
	replay="2 packets from before the kill refused as replays"
fi

# c: release: B stops relaying s1 and s2 without ending them
t_rel=$(date +%s.%N)
ha b release >"$tmp/release.out" || pr_fail "ha release: $(cat "$tmp/release.out")"
[ "$(mstat b ha_released)" = 2 ] || pr_fail "B released $(mstat b ha_released) sessions, expected 2"
live b s1 || live b s2 && pr_fail "B still relays s1 or s2 after the release"
live b s3 || pr_fail "B lost its own s3 at the release"
[ "$(mstat b ha_following)" = 2 ] || pr_fail "B follows $(mstat b ha_following) sessions after the release, expected 2"
wait $pa || { cat "$tmp/a.err" >&2; pr_fail "mpeer A failed"; }
wait $pb || { cat "$tmp/b.err" >&2; pr_fail "mpeer B failed"; }
[ "$(rcli EXISTS pr:session:s1)" = 1 ] && [ "$(rcli EXISTS pr:session:s2)" = 1 ] &&
	[ "$(rcli SISMEMBER pr:sessions s1)" = 1 ] || pr_fail "the release ended s1 or s2 in redis"
[ "$(events)" = 0 ] || pr_fail "sessions reported to end: $(rcli XRANGE pr:sessions:events - +)"
[ "$(rcli HGET pr:session:s1 a_auth_fail)" = 0 ] || pr_fail "s1's a_auth_fail $(rcli HGET pr:session:s1 a_auth_fail)"

# the devices' view: same keys all along, nothing refused, media through B, none after the
# release; the gaps
python3 - "$tmp" "$t_kill" "$t_take" "$t_rel" <<'PY' || pr_fail "the devices' view (above)"
import json, os, struct, sys
tmp, t_kill, t_take, t_rel = sys.argv[1], *map(float, sys.argv[2:])

def times(path):
    b = open(path, "rb").read()
    out, pos = [], 24
    while pos + 16 <= len(b):
        sec, usec, incl = struct.unpack("<III", b[pos:pos + 12])
        out.append(sec + usec / 1e6)
        pos += 16 + incl
    return out

ok = True
for dev, other in (("a", "b"), ("b", "a")):
    j = json.load(open(os.path.join(tmp, dev + ".json")))
    t = times(os.path.join(tmp, dev + "-rx.pcap"))
    before = [x for x in t if x <= t_kill + 0.05]
    after = [x for x in t if x > t_kill + 0.05]
    held = [x for x in after if x < t_rel]
    late = [x for x in after if x > t_rel + 0.3]
    gap = (after[0] - before[-1]) * 1000 if before and after else float("inf")
    since_take = (after[0] - t_take) * 1000 if after else float("inf")
    print("device %s: %d packets via A, %d via B, gap %.0f ms from the last before the kill "
          "to the first after, %.0f ms of it after the takeover was asked (the rest is this "
          "test's 1 s wait); auth_fail %d, replay %d, rx %s" % (
              dev, len(before), len(held), gap, since_take, j["auth_fail"], j["replay"],
              j["rx_ssrcs"]), file=sys.stderr)
    # RTP at 100/s, allow a slow start; through B until the release or until the other
    # device stopped sending, whichever came first (on a loaded machine the steps between
    # the takeover and the release can outlast the other's 11 s of media)
    t_end = min(t_rel, times(os.path.join(tmp, other + "-tx.pcap"))[-1])
    want_b = (t_end - t_take - 0.5) * 100 * 0.8
    if j["auth_fail"] or j["replay"] or j["srtp_other"] or j["payload_bad"] or j["wrong_sender"]:
        print("FAIL: device %s refused packets: %s" % (dev, j), file=sys.stderr); ok = False
    if len(before) < 250 or len(held) < want_b:
        print("FAIL: device %s got %d via A, %d via B (want >= 250, >= %d)" % (
            dev, len(before), len(held), want_b), file=sys.stderr); ok = False
    if late:
        print("FAIL: device %s got %d packets after the release" % (dev, len(late)), file=sys.stderr); ok = False
    if since_take > 1000:
        print("FAIL: device %s: first packet %.0f ms after the takeover" % (dev, since_take), file=sys.stderr); ok = False
# leg a's stream went past its wrap before the kill: its ROC came over to B
b = json.load(open(os.path.join(tmp, "b.json")))
s = b["rx_ssrcs"].get("0x0a000001", {})
if s.get("roc") != 1 or s.get("highest_seq", 0) < 300:
    print("FAIL: device b's view of leg a's stream: %s (want ROC 1, past seq 300)" % s, file=sys.stderr); ok = False
sys.exit(0 if ok else 1)
PY
pr_log "ok: b  A killed, B took s1 and s2 over from its standby (no Redis read): SRTP both ways with the same keys, auth_fail 0 at the devices and at B, ROC 1 carried; $replay"
pr_log "ok: c  release: B stopped relaying s1 and s2, their records stay (no end, no report), followed again; s3 stays B's"

# d: B takes X again; A restarts fenced; the failback hands s1 back to A with its state
ha b takeover >"$tmp/takeover2.out" || pr_fail "second ha takeover: $(cat "$tmp/takeover2.out")"
grep -q "took over $X" "$tmp/takeover2.out" || pr_fail "second takeover said: $(cat "$tmp/takeover2.out")"
pr_wait_for 5 live b s1 || pr_fail "B does not relay s1 after the second takeover"
# no RTCP: the devices' new SRTCP contexts would start below the indexes the relay has seen
ip netns exec hm-c "$MPEER" --bind $IPA:41000 --to $X:31000 --suite $S80 --tx-key "$KA_RX" \
	--rx-key "$KA_TX" --id A --expect-id B --ssrc 0x0a000001 --seq 2000 --roc 1 --count 1400 \
	--rate 100 --start-delay-ms 100 --linger-ms 500 \
	--dump-rx "$tmp/da-rx.pcap" >"$tmp/da.json" 2>"$tmp/da.err" &
pda=$!
pr_on_exit "kill $pda 2>/dev/null"
ip netns exec hm-c "$MPEER" --bind $IPB:41002 --to $X:31002 --suite $S80 --tx-key "$KB_RX" \
	--rx-key "$KB_TX" --id B --expect-id A --ssrc 0x0b000001 --seq 5000 --rx-roc 1 --count 1400 \
	--rate 100 --start-delay-ms 100 --linger-ms 500 \
	--dump-rx "$tmp/db-rx.pcap" >"$tmp/db.json" 2>"$tmp/db.err" &
pdb=$!
pr_on_exit "kill $pdb 2>/dev/null"
sleep 2
[ "$(leg b s1 a rx_packets)" -gt 100 ] || pr_fail "s1 not relayed by B before A's restart: $(sess b s1)"
ip -n hm-a link set hma0 up
he_start_dp a
pr_wait_for 5 sh -c "$TEL hm-a /poprelay/ha/status | grep -q '\"own_held_by\": \"$Y\"'" ||
	pr_fail "A does not see X held by B: $($TEL hm-a /poprelay/ha/status)"
sleep 1
live a s1 || live a s2 && pr_fail "A relays s1 or s2 while B holds X"
live b s1 || pr_fail "B stopped relaying s1 at A's restart"
[ "$(events)" = 0 ] || pr_fail "sessions reported to end after A's restart: $(rcli XRANGE pr:sessions:events - +)"
t_fb=$(date +%s.%N)
ha a failback >"$tmp/failback.out" || pr_fail "ha failback: $(cat "$tmp/failback.out")"
grep -q "served again" "$tmp/failback.out" || pr_fail "failback said: $(cat "$tmp/failback.out")"
live a s1 || pr_fail "A does not relay s1 after the failback"
live b s1 && pr_fail "B still relays s1 after the failback"
wait $pda || { cat "$tmp/da.err" >&2; pr_fail "mpeer A (d) failed"; }
wait $pdb || { cat "$tmp/db.err" >&2; pr_fail "mpeer B (d) failed"; }
[ "$(events)" = 0 ] || pr_fail "sessions reported to end: $(rcli XRANGE pr:sessions:events - +)"
for l in a b; do
	[ "$(leg a s1 $l rx_packets)" -gt 100 ] && [ "$(leg a s1 $l auth_fail)" = 0 ] &&
		[ "$(leg a s1 $l replay)" = 0 ] || pr_fail "A's s1 leg $l after the failback: $(sess a s1)"
done
python3 - "$tmp" "$t_fb" <<'PY' || pr_fail "the devices' view of the failback (above)"
import json, os, struct, sys
tmp, t_fb = sys.argv[1], float(sys.argv[2])

def times(path):
    b = open(path, "rb").read()
    out, pos = [], 24
    while pos + 16 <= len(b):
        sec, usec, incl = struct.unpack("<III", b[pos:pos + 12])
        out.append(sec + usec / 1e6)
        pos += 16 + incl
    return out

GAP_MS, GAP_LOST = 100, 5  # margin for a loaded 2-core machine
ok = True
for dev in ("a", "b"):
    j = json.load(open(os.path.join(tmp, "d%s.json" % dev)))
    t = times(os.path.join(tmp, "d%s-rx.pcap" % dev))
    via_b = [x for x in t if x < t_fb]
    via_a = [x for x in t if x > t_fb]
    gaps = [b - a for a, b in zip(t, t[1:]) if a < t_fb + 3 and b > t_fb - 1]
    gap = max(gaps) * 1000 if gaps else float("inf")
    lost = sum(s.get("lost", 0) for s in j["rx_ssrcs"].values())
    print("device %s (d): %d packets via B, %d via A after the failback, longest silence "
          "around it %.0f ms, lost %d; auth_fail %d, replay %d, rx %s" % (
              dev, len(via_b), len(via_a), gap, lost, j["auth_fail"], j["replay"],
              j["rx_ssrcs"]), file=sys.stderr)
    # Near hitless (issue 20). Measured on this 2-core machine: 11-13 ms (the 10 ms packet
    # spacing) and 0 lost in 3 runs; before 0213b4b (A's next hops unresolved until its
    # neighbour timer) 300-350 ms and 30-34 lost (once 980 ms, 97 lost), at 4098afb ~110 ms
    # and 10 lost
    if lost > GAP_LOST or gap > GAP_MS:
        print("FAIL: device %s: %.0f ms of silence, %d lost at the failback (want <= %d ms, "
              "<= %d lost)" % (dev, gap, lost, GAP_MS, GAP_LOST), file=sys.stderr); ok = False
    if j["auth_fail"] or j["replay"] or j["srtp_other"] or j["payload_bad"] or j["wrong_sender"]:
        print("FAIL: device %s refused packets: %s" % (dev, j), file=sys.stderr); ok = False
    if len(via_b) < 200 or len(via_a) < 100:
        print("FAIL: device %s got %d via B, %d via A (want >= 200, >= 100)" % (
            dev, len(via_b), len(via_a)), file=sys.stderr); ok = False
sys.exit(0 if ok else 1)
PY
pr_log "ok: d  failback: A restarted relayed nothing while B held X; after ha failback A relays s1 both ways from the state B left (ROC 1 leg, auth_fail 0, replay 0), near hitless (<= 100 ms silence, <= 5 lost)"
