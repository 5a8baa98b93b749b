#!/usr/bin/env bash
# The media anchor reached through the appliance's own TURN relay (docs/media.md, "Through
# our own TURN relay"; the hairpin of docs/architecture.md). The dataplane runs [turn]
# (defaults: listener 3478, relay ports 49152-65535) and [media] on net_af_packet in
# namespace mt-pop; two devices (mt-a, mt-b) sit on a bridge (mtbr in mt-br) with it.
#   - Device A reaches the anchor only through TURN: media/turnshim.py allocates a relayed
#     address (long-term credentials of a user made by poprelayctl), binds a channel to
#     leg a's anchor port, and carries mpeer's SRTP as ChannelData both ways. Leg a's SDP
#     peer in the session record is that relayed address (198.51.100.10:49152+).
#   - Device B is a plain mpeer that talks to the anchor directly.
# Checks, each "ok: ...":
#   1 B gets A's packets and A (behind the shim) gets B's: decrypted with each device's own
#     key, intact, nearly all of them (50 pps for 4 s each way)
#   2 the dataplane's `hairpin` counter grew by what leg a received and sent (each of
#     those datagrams crossed from TURN to the anchor or back inside the dataplane)
#   3 nothing hairpinned reached the wire: a capture on the dataplane's link (the bridge's
#     side of its veth) has no frame from our address to our address, no ARP request of
#     the dataplane for its own address, and neigh_unresolved did not move; the capture
#     holds the traffic that must be there (TURN to A, anchor to B) so it is not empty
#   4 /poprelay/media/session,ID: leg a latched to the TURN relayed address
#   5 refusals: the TURN client sending to an unclaimed port of ours (198.51.100.10:7) and
#     to a TURN relay port of ours that nobody holds: not relayed, dropped as
#     udp_hairpin_refused; the anchor sending toward an unclaimed port of ours, and
#     toward one of its own ports (a loop): udp_hairpin_refused, nothing on the wire
# Exits 0 (pass), 77 (skip: not root, no tshark/dumpcap, poprelayctl or mpeer not built),
# 1 (a check failed: every check runs, the failures are listed at the end).
# Environment: BUILD (lib.sh); MPEER, another build's mpeer (to run this against a build of
# a commit that had none); MT_KEEP=DIR keeps the run's files (logs, captures) in DIR.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
DP=$BUILD/poprelay-dataplane
CTL=$BUILD/poprelayctl
# MPEER may name another build's mpeer (a build of a commit before mpeer existed)
MPEER=${MPEER:-$BUILD/tests/integration/media/mpeer}
H=$PR_ROOT/tests/integration/media
[ -x "$DP" ] || pr_fail "$DP not built"
[ -x "$MPEER" ] || pr_skip "$MPEER not built (tests/integration/media/mpeer.mk)"
[ -x "$CTL" ] || pr_skip "$CTL not built (needed to add the TURN user)"
command -v dumpcap >/dev/null && command -v tshark >/dev/null || pr_skip "dumpcap/tshark not installed"
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
PREFIX=mt-turn
REALM=mt.example
TUSER=dev-a
TPW=Hairpin-through-49152
RELAY=198.51.100.10
IPA=198.51.100.21
IPB=198.51.100.22
PMIN=32000
PMAX=32199
S80=AES_CM_128_HMAC_SHA1_80
RATE=50
COUNT=200 # 4 s at 50 packets/s

tmp=$(pr_tmpdir)
if [ -n "${MT_KEEP:-}" ]; then pr_on_exit "rm -rf '$MT_KEEP'; cp -a '$tmp' '$MT_KEEP'"; fi
pr_redis_start "$tmp"
ms_redis() { redis-cli -s "$tmp/redis.sock" "$@"; }
MS_RELAY=$RELAY
. "$H/sessions.sh"

# ---- topology: mt-pop (dataplane) and the devices on bridge mtbr in mt-br ----
for ns in mt-pop mt-br mt-a mt-b; do
	pr_netns $ns
	ip netns exec $ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
done
ip -n mt-br link add mtbr type bridge
ip -n mt-br link set mtbr up
pr_veth mt-pop mtp0 mt-br mtbp
for d in a b; do pr_veth mt-$d mt${d}0 mt-br mtb$d; done
for p in mtbp mtba mtbb; do ip -n mt-br link set $p master mtbr; done
ip -n mt-a addr add $IPA/24 dev mta0
ip -n mt-b addr add $IPB/24 dev mtb0

# ---- the dataplane: [turn] with its defaults, [media] ----
cat >"$tmp/dp.conf" <<CONF
# media_turn.sh
[global]
realm = $REALM
[eal]
lcores = 0-1
memory_mb = 256
huge = no
file_prefix = $PREFIX
[dataplane]
mbuf_pool_size = 8191
worker_idle_sleep_us = 20
[redis]
socket = $tmp/redis.sock
[port0]
device = net_af_packet0,iface=mtp0,qpairs=2
ipv4 = $RELAY/24
gateway4 = 198.51.100.1
[turn]
# listener 3478 and relay ports 49152-65535 (defaults); the realm is [global]'s
nonce_secret_file = $tmp/nonce.key
counters_sync_s = 1
[media]
port_min = $PMIN
port_max = $PMAX
consumer = dataplane
stats_interval_ms = 500
CONF
pr_on_exit "rm -rf /var/run/dpdk/$PREFIX"
printf '%s\n' "$TPW" | "$CTL" -c "$tmp/dp.conf" user add $TUSER >/dev/null ||
	pr_fail "poprelayctl user add $TUSER"

tel() { $TEL $PREFIX "$@"; }
ip netns exec mt-pop "$DP" -c "$tmp/dp.conf" >"$tmp/dp.out" 2>"$tmp/dp.log" &
dp_pid=$!
pr_on_exit "kill $dp_pid 2>/dev/null; sleep 0.5; kill -9 $dp_pid 2>/dev/null"
pr_wait_for 30 sh -c "$TEL $PREFIX /poprelay/media/stats | grep -q '\"redis_up\": 1'" ||
	{ tail -30 "$tmp/dp.log"; pr_fail "the dataplane did not come up with the media anchor"; }
tel /poprelay/turn/stats >/dev/null || { tail -30 "$tmp/dp.log"; pr_fail "no TURN relay in the dataplane"; }
pr_wait_for 10 tel /poprelay/port,0 || pr_fail "no telemetry for port 0"
DPMAC=$(tel /poprelay/port,0 | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/port,0']['mac'])")
for d in a b; do
	ip netns exec mt-$d ping -c 1 -W 2 $RELAY >/dev/null || pr_fail "mt-$d cannot ping the relay"
done

# ---- helpers ----
FAILS=()
soft_fail() {
	FAILS+=("$1")
	pr_log "FAIL: $1"
}
chk() { # chk LABEL [NAME=VALUE...] -- EXPR...: media/check.py; a failure is listed, not fatal
	local label=$1
	shift
	if python3 "$H/check.py" "$@"; then
		pr_log "ok: $label"
	else
		soft_fail "$label"
	fi
}
declare -A PIDS
bg() { # bg NS NAME CMD...: in NS in the background, stdout in $tmp/NAME.out
	local ns=$1 name=$2
	shift 2
	ip netns exec "$ns" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	PIDS[$name]=$!
	pr_on_exit "kill ${PIDS[$name]} 2>/dev/null"
}
waitp() {
	local n rc
	for n in "$@"; do
		rc=0
		wait "${PIDS[$n]}" || rc=$?
		[ $rc = 0 ] || { cat "$tmp/$n.err" >&2; soft_fail "$n exited $rc"; }
	done
}
# shim NAME ARGS...: turnshim.py in mt-a toward our TURN listener
shim() {
	local name=$1
	shift
	bg mt-a "$name" python3 -u "$H/turnshim.py" --server $RELAY:3478 --user $TUSER \
		--password "$TPW" "$@"
}
# relayed NAME: the relayed address shim NAME printed (waits for it)
relayed() {
	pr_wait_for 10 grep -q '^relayed ' "$tmp/$1.out" ||
		{ cat "$tmp/$1.out" "$tmp/$1.err" >&2; tel /poprelay/turn/stats >&2; pr_fail "shim $1: no allocation"; }
	sed -n 's/^relayed //p' "$tmp/$1.out"
}
lastjson() { tail -1 "$tmp/$1.out"; }
srtp() { echo "--suite $1 --tx-key $2 --rx-key $3"; }
sess() { tel "/poprelay/media/session,$1"; }
live() { sess "$1" | grep -q '"id"'; }
stats() { tel /poprelay/stats; }
drops() { tel /poprelay/drops; }
moved() { # moved D0 D1: the drop counters that moved between two snapshots
	python3 -c 'import json,sys; a=json.loads(sys.argv[1])["/poprelay/drops"]; b=json.loads(sys.argv[2])["/poprelay/drops"]
print({k: b[k] - a.get(k, 0) for k in b if isinstance(b[k], int) and b[k] != a.get(k, 0)})' "$1" "$2"
}
install() {
	ms_store install "$@" || pr_fail "session $1: redis refused the record"
	pr_wait_for 5 live "$1" || { tail -5 "$tmp/dp.log"; pr_fail "session $1 not installed"; }
}
# the wire: everything the dataplane and the devices exchange, seen from the bridge's side
# of the dataplane's veth (the dataplane's own socket bypasses the kernel's taps)
cap_pid=
cap_start() {
	ip netns exec mt-br dumpcap -q -i mtbp -w "$tmp/$1.pcapng" >"$tmp/$1.cap.log" 2>&1 &
	cap_pid=$!
	pr_on_exit "kill $cap_pid 2>/dev/null"
	pr_wait_for 5 grep -q 'Capturing on' "$tmp/$1.cap.log" || { cat "$tmp/$1.cap.log" >&2; pr_fail "dumpcap did not start"; }
	sleep 0.2
}
cap_stop() {
	sleep 0.3
	kill -INT $cap_pid 2>/dev/null || true
	wait $cap_pid 2>/dev/null || true
}
# frames NAME FILTER: frames of capture NAME that match a display filter
frames() { tshark -r "$tmp/$1.pcapng" -Y "$2" 2>/dev/null | wc -l; }

# ---- 1-4: A through TURN, B direct ----
pr_log "device A allocates a relayed address and binds a channel to leg a's anchor port $RELAY:$PMIN"
shim shim-a --bind $IPA:43000 --peer $RELAY:$PMIN --local $IPA:43100 --app $IPA:42000 --duration 30
RA=$(relayed shim-a)
pr_log "A's relayed address: $RA"
KA_RX=$(ms_key $S80) KA_TX=$(ms_key $S80) KB_RX=$(ms_key $S80) KB_TX=$(ms_key $S80)
install st "peer=$RA relay=$PMIN suite=$S80 rx=$KA_RX tx=$KA_TX latch=1" \
	"peer=$IPB:42002 relay=$((PMIN + 2)) suite=$S80 rx=$KB_RX tx=$KB_TX latch=1"
T0=$(tel /poprelay/turn/stats)
X0=$(stats)
D0=$(drops)
cap_start main
bg mt-b mp-b "$MPEER" --bind $IPB:42002 --to $RELAY:$((PMIN + 2)) $(srtp $S80 "$KB_RX" "$KB_TX") \
	--id B --expect-id A --ssrc 0xb0000001 --count $COUNT --rate $RATE --size 172 \
	--start-delay-ms 300 --expect $COUNT --linger-ms 2000 --dump-rx "$tmp/mp-b-rx.pcap"
bg mt-a mp-a "$MPEER" --bind $IPA:42000 --to $IPA:43100 $(srtp $S80 "$KA_RX" "$KA_TX") \
	--id A --expect-id B --ssrc 0xa0000001 --count $COUNT --rate $RATE --size 172 \
	--start-delay-ms 300 --expect $COUNT --linger-ms 2000 --dump-tx "$tmp/mp-a-tx.pcap"
waitp mp-a mp-b
sleep 0.2
S=$(sess st)
X1=$(stats)
D1=$(drops)
T1=$(tel /poprelay/turn/stats)
cap_stop
kill -TERM ${PIDS[shim-a]} 2>/dev/null || true
waitp shim-a
lastjson shim-a >"$tmp/shim-a.json"
cp "$tmp/mp-a.out" "$tmp/mp-a.json"
cp "$tmp/mp-b.out" "$tmp/mp-b.json"
pr_log "shim A: $(cat "$tmp/shim-a.json")"
pr_log "session st: $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d=d[next(iter(d))]
print("  ".join("%s: rx %s tx %s auth_fail %s latched %s" % (l, d[l].get("rx_packets"), d[l].get("tx_packets"),
	d[l].get("auth_fail"), d[l].get("latched")) for l in "ab"))' "$S" 2>&1)"
pr_log "hairpin: $(python3 -c 'import json,sys; a=json.loads(sys.argv[1])["/poprelay/stats"]; b=json.loads(sys.argv[2])["/poprelay/stats"]; print(b.get("hairpin", "absent"), "-", a.get("hairpin", "absent"))' "$X0" "$X1")"
pr_log "drops that moved: $(moved "$D0" "$D1")"

# 95% of 200: loopback and a bridge at 50 packets/s should lose nothing, but a test that
# fails on one lost datagram in a busy VM says nothing about the hairpin
MIN=$((COUNT * 95 / 100))
chk "1: device B got A's packets through TURN and the anchor: >= $MIN of $COUNT, decrypted with B's own key, intact, from leg b's anchor port" \
	B=@"$tmp/mp-b.json" N=$MIN -- 'B["rtp_ok"] >= N' 'B["payload_ok"] == B["rtp_ok"]' \
	'B["auth_fail"] == 0 and B["wrong_sender"] == 0 and B["plain_on_wire"] == 0' \
	'B["rx_ssrcs"]["0xa0000001"]["received"] >= N' 'B["from"] == ["198.51.100.10:32002"]'
chk "1: device A (behind the TURN shim) got B's packets: >= $MIN of $COUNT, as ChannelData, decrypted with A's own key, intact" \
	A=@"$tmp/mp-a.json" M=@"$tmp/shim-a.json" N=$MIN C=$COUNT RA="\"$RA\"" -- \
	'A["rtp_ok"] >= N' 'A["payload_ok"] == A["rtp_ok"]' 'A["auth_fail"] == 0 and A["wrong_sender"] == 0' \
	'A["rx_ssrcs"]["0xb0000001"]["received"] >= N' 'A["from"] == ["198.51.100.21:43100"]' \
	'M["relayed"] == RA and M["up"] == C and M["down"] >= N and M["down_chandata"] == M["down"]' \
	'M["down_from"] == {"198.51.100.10:32000": M["down"]} and M["down_other"] == 0'
chk "2: the hairpin counter grew by exactly what leg a received and sent (each crossed between TURN and the anchor inside the dataplane), ~$((2 * COUNT))" \
	X0="$X0" X1="$X1" S="$S" N=$MIN -- \
	'd(X1, X0, "hairpin") == S["a"]["rx_packets"] + S["a"]["tx_packets"]' \
	'S["a"]["rx_packets"] >= N and S["a"]["tx_packets"] >= N' \
	'S["b"]["tx_packets"] == S["a"]["rx_packets"] and S["a"]["tx_packets"] == S["b"]["rx_packets"]'
chk "2: TURN relayed them both ways over A's channel, with no TURN drop and no hairpin refused" \
	T0="$T0" T1="$T1" D0="$D0" D1="$D1" S="$S" -- \
	'd(T1, T0, "pkts_c2p") >= S["a"]["rx_packets"] and d(T1, T0, "pkts_p2c") >= S["a"]["tx_packets"]' \
	'all(D1[k] == D0[k] for k in D0 if k.startswith("turn_") or k.startswith("media_"))' \
	'd(D1, D0, "udp_hairpin_refused") == 0'
W_SELF="ip.src == $RELAY && ip.dst == $RELAY"
W_ARP="arp.opcode == 1 && arp.dst.proto_ipv4 == $RELAY && eth.src == $DPMAC"
W_TURN="ip.src == $RELAY && udp.srcport == 3478 && ip.dst == $IPA && udp.dstport == 43000"
W_B="ip.src == $RELAY && udp.srcport == $((PMIN + 2)) && ip.dst == $IPB"
W_ANCHOR_A="udp.port == $PMIN"
chk "3: nothing hairpinned went to the wire: no frame from $RELAY to itself, no ARP for it, no frame of leg a's anchor port; neigh_unresolved unmoved (the capture holds the $COUNT-odd TURN and anchor datagrams toward A and B)" \
	SELF=$(frames main "$W_SELF") ARP=$(frames main "$W_ARP") ANC=$(frames main "$W_ANCHOR_A") \
	TURN=$(frames main "$W_TURN") TOB=$(frames main "$W_B") D0="$D0" D1="$D1" N=$MIN -- \
	'SELF == 0' 'ARP == 0' 'ANC == 0' 'TURN >= N' 'TOB >= N' 'd(D1, D0, "neigh_unresolved") == 0'
chk "4: /poprelay/media/session,st: leg a latched to the TURN relayed address $RA, leg b to B" \
	S="$S" RA="\"$RA\"" -- 'S["a"]["latched"] == RA' 'S["b"]["latched"] == "198.51.100.22:42002"' \
	'S["a"]["sdp_peer"] == RA' 'S["a"]["auth_fail"] == 0 and S["a"]["relatch"] == 0'

# ---- 5: refusals ----
# probe NAME PORT TARGET: another TURN client (from IPA:PORT; its own allocation, a
# permission and a channel for TARGET) sends 10 ChannelData and 10 Send indications to
# TARGET; checks that none was relayed (nothing hairpinned, nothing came back) and that each
# was dropped as udp_hairpin_refused.
probe() {
	local name=$1 port=$2 target=$3 x0 x1 d0 d1
	x0=$(stats)
	d0=$(drops)
	shim $name --bind $IPA:$port --probe $target --probe-count 10 --duration 0.5
	waitp $name
	lastjson $name >"$tmp/$name.json"
	sleep 0.2
	x1=$(stats)
	d1=$(drops)
	pr_log "probe $name: $(cat "$tmp/$name.json")"
	pr_log "drops that moved: $(moved "$d0" "$d1")"
	chk "5: the TURN client's 20 datagrams (10 ChannelData, 10 Send indications) to $target: not relayed, each dropped as udp_hairpin_refused" \
		P=@"$tmp/$name.json" X0="$x0" X1="$x1" D0="$d0" D1="$d1" -- \
		'"error" not in P and P["probe_sent_chandata"] == 10 and P["probe_sent_send_ind"] == 10' \
		'P["down"] == 0' 'd(X1, X0, "hairpin") == 0' 'd(D1, D0, "udp_hairpin_refused") == 20'
}
# A TURN relay port nobody holds (two allocations live: 65001 is one of them only by chance)
FREE=65001
while tel /poprelay/turn/allocations | grep -q "\"$RELAY:$FREE\""; do FREE=$((FREE + 1)); done
cap_start neg
pr_log "5: a TURN client sends to $RELAY:7 (a port nobody claimed)"
probe probe-7 43200 $RELAY:7
pr_log "5: a TURN client sends to $RELAY:$FREE (a TURN relay port nobody holds: TURN to TURN, a loop)"
probe probe-relay 43201 $RELAY:$FREE

pr_log "5: the anchor relays toward $RELAY:7 (leg b of session sx) and toward its own port $RELAY:$((PMIN + 20)) (leg b of sy, a loop)"
KX=$(ms_key $S80) KY=$(ms_key $S80)
install sx "peer=$IPA:42010 relay=$((PMIN + 10))" "peer=$RELAY:7 relay=$((PMIN + 12)) latch=0"
install sy "peer=$IPA:42014 relay=$((PMIN + 14))" "peer=$RELAY:$((PMIN + 20)) relay=$((PMIN + 16)) latch=0"
install sz "peer=$IPB:42020 relay=$((PMIN + 20)) suite=$S80 rx=$KX tx=$KY" "peer=$IPB:42022 relay=$((PMIN + 22))"
X0=$(stats)
D0=$(drops)
bg mt-a mp-x "$MPEER" --bind $IPA:42010 --to $RELAY:$((PMIN + 10)) --id X --ssrc 0xc0000001 \
	--count 20 --rate 100 --linger-ms 200
bg mt-a mp-y "$MPEER" --bind $IPA:42014 --to $RELAY:$((PMIN + 14)) --id Y --ssrc 0xc0000002 \
	--count 20 --rate 100 --linger-ms 200
waitp mp-x mp-y
sleep 0.3
X1=$(stats)
D1=$(drops)
cap_stop
SX=$(sess sx)
SY=$(sess sy)
SZ=$(sess sz)
pr_log "drops that moved: $(moved "$D0" "$D1")"
chk "5: the anchor's 40 datagrams toward $RELAY:7 and toward its own port $((PMIN + 20)): each dropped as udp_hairpin_refused, none hairpinned into session sz" \
	X0="$X0" X1="$X1" D0="$D0" D1="$D1" SX="$SX" SY="$SY" SZ="$SZ" -- \
	'SX["a"]["rx_packets"] == 20 and SY["a"]["rx_packets"] == 20' \
	'd(D1, D0, "udp_hairpin_refused") == 40' 'd(X1, X0, "hairpin") == 0' \
	'SZ["a"]["rx_packets"] == 0 and SZ["b"]["rx_packets"] == 0'
chk "5: none of the refused datagrams reached the wire (no frame from $RELAY to itself, no ARP for it)" \
	SELF=$(frames neg "$W_SELF") ARP=$(frames neg "$W_ARP") SEVEN=$(frames neg "udp.port == 7") -- \
	'SELF == 0' 'ARP == 0' 'SEVEN == 0'

pr_log "hairpin $(stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["/poprelay/stats"].get("hairpin"))'), turn: $(tel /poprelay/turn/stats)"
if [ ${#FAILS[@]} -gt 0 ]; then
	grep -i 'media\|turn\|hairpin' "$tmp/dp.log" | tail -20 >&2 || true
	pr_log "failed checks:"
	for f in "${FAILS[@]}"; do echo "  $f" >&2; done
	exit 1
fi
pr_log "PASS"
