#!/usr/bin/env bash
# parallel: hugepages
# A real call through the real processes, media anchored on the dataplane: two baresip
# devices register to the slowpath over TLS, alice (playing 440 Hz) calls bob (playing
# 1000 Hz, auto-answer), alice hangs up after about 7 s. The dataplane relays the SRTP of
# the two legs, decrypting with one leg's keys and encrypting with the other's. Checks:
#   - what each device decoded contains the OTHER side's tone (Goertzel, pure Python:
#     tests/integration/media/tone.py), at least 2 s of it (baresip's sndfile dumps);
#   - on the wire (dumpcap on each device's link), every media datagram is SRTP/SRTCP, no
#     payload looks like clear G.711 of a tone, no payload is seen on both legs (per-leg
#     keys), media goes through the relay ports of the session record and nowhere else,
#     and the relay sends each device media (tests/integration/media/srtp_wire.py);
#   - the dataplane consumed the session stream (its consumer group, nothing pending);
#   - the CDR carries the media figures: rx/tx packets per leg non-zero and not above what
#     the wire saw, lost and jitter present;
#   - the dataplane's telemetry (/poprelay/media/stats) counts a session and relayed packets.
#
# Topology (namespaces, prefix mc-): one Ethernet segment, a Linux bridge mc-br in mc-lan,
# joins four veths:
#   mc-pop    mc-dp: the dataplane's port (net_af_packet, no kernel address; the dataplane
#             answers ARP for 198.51.100.10 itself), and mc-sig: 198.51.100.2, the kernel
#             address the slowpath listens on (SIP/TLS 5061)
#   mc-alice  mc-a: 198.51.100.21        mc-bob  mc-b: 198.51.100.22
# Redis on a unix socket (reachable from every namespace). The dataplane's configuration is
# images/poprelay.conf with this run's port, paths and a [media] section; the slowpath's
# comes from slowpath/common.sh's sp_config with media_addr = the dataplane's address.
# Exit 0 pass, 77 skip, 1 fail.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
command -v baresip >/dev/null || pr_skip "baresip not installed"
command -v dumpcap >/dev/null || pr_skip "dumpcap (wireshark-common) not installed"
DP=$BUILD/poprelay-dataplane
for b in "$DP" "$BUILD/poprelay-slowpath" "$BUILD/poprelayctl"; do
	[ -x "$b" ] || pr_fail "$b not built (make build)"
done
MEDIA=$PR_ROOT/tests/integration/media
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
PREFIX=mc-call
DP_IP=198.51.100.10
SP_ADDR=198.51.100.2
ALICE_IP=198.51.100.21
BOB_IP=198.51.100.22
ALICE_HZ=440
BOB_HZ=1000
PORTS=31000-31999
CALL_S=8 # alice's baresip quits (hanging up) after this long

D=$(pr_tmpdir)
# MC_KEEP=DIR keeps this run's files in DIR (captures, recordings, logs, configs; also the
# test CA's and the session's keys, which is what makes the captures decryptable).
[ -n "${MC_KEEP:-}" ] && pr_on_exit "mkdir -p '$MC_KEEP' && cp -a '$D/.' '$MC_KEEP/'"
R() { redis-cli -s "$D/redis.sock" "$@"; }

# dump_logs: the tails of every log, and the dataplane's counters, for a failure.
dump_logs() {
	local f
	for f in sp.log dp.log alice.log bob.log cap-a.err cap-b.err; do
		[ -s "$D/$f" ] || continue
		echo "--- tail of $f" >&2
		tail -n 25 "$D/$f" >&2
	done
	echo "--- dataplane telemetry" >&2
	$TEL $PREFIX /poprelay/stats /poprelay/drops /poprelay/neigh /poprelay/media/stats >&2 2>&1 || true
}
setup_fail() {
	dump_logs
	pr_fail "$*"
}

# The analysers first: they must tell the right tone from the wrong one, SRTP from clear
# G.711, per-leg keys from forwarded bytes (synthetic WAV and pcap files).
python3 "$MEDIA/selftest.py" "$(pr_tmpdir)" >"$D/selftest.out" 2>&1 ||
	{ cat "$D/selftest.out" >&2; pr_fail "the analysers' self-test"; }
echo "ok: analysers' self-test ($(grep -c '^ok:' "$D/selftest.out") synthetic cases)"

# --- topology ------------------------------------------------------------------------------
pr_netns mc-pop
pr_netns mc-lan
pr_netns mc-alice
pr_netns mc-bob
ip -n mc-lan link add mc-br type bridge || pr_fail "bridge"
ip -n mc-lan link set mc-br up
pr_veth mc-pop mc-dp mc-lan mc-ldp
pr_veth mc-pop mc-sig mc-lan mc-lsig
pr_veth mc-alice mc-a mc-lan mc-la
pr_veth mc-bob mc-b mc-lan mc-lb
for p in mc-ldp mc-lsig mc-la mc-lb; do ip -n mc-lan link set "$p" master mc-br; done
# No kernel address, nor kernel IPv6, on the dataplane's veth end.
ip netns exec mc-pop sysctl -qw net.ipv6.conf.mc-dp.disable_ipv6=1
ip -n mc-pop addr add $SP_ADDR/24 dev mc-sig
ip -n mc-alice addr add $ALICE_IP/24 dev mc-a
ip -n mc-bob addr add $BOB_IP/24 dev mc-b
ip netns exec mc-alice ping -c 1 -W 3 $SP_ADDR >/dev/null || pr_fail "alice cannot reach $SP_ADDR"

# --- Redis, dataplane ----------------------------------------------------------------------
pr_redis_start "$D"
huge=no
if grep -qw hugetlbfs /proc/filesystems && [ -w /proc/sys/vm/nr_hugepages ]; then
	pr_hugepages 256
	huge=yes
fi
pr_on_exit "rm -rf /var/run/dpdk/$PREFIX"
sed -e "s|^lcores = .*|lcores = 0-1|" \
	-e "s|^huge = .*|huge = $huge|" \
	-e "s|^memory_mb = .*|memory_mb = 256|" \
	-e "s|^file_prefix = .*|file_prefix = $PREFIX|" \
	-e "s|^log_level = .*|log_level = 6|" \
	-e "s|^mbuf_pool_size = .*|mbuf_pool_size = 8191|" \
	-e "s|^worker_idle_sleep_us = .*|worker_idle_sleep_us = 100|" \
	-e "s|^socket = .*|socket = $D/redis.sock|" \
	-e "s|^user = .*|user =|" -e "s|^password_file = .*|password_file =|" \
	-e "s|^device = .*|device = net_af_packet0,iface=mc-dp,qpairs=2|" \
	-e "s|^ipv4 = .*|ipv4 = $DP_IP/24|" \
	-e "/^ipv6 = /d" -e "/^gateway[46] = /d" \
	"$PR_ROOT/images/poprelay.conf" >"$D/dp.conf"
cat >>"$D/dp.conf" <<CONF

# media_call.sh: the media anchor on the slowpath's port range (RTCP = RTP + 1 included)
[media]
enabled = yes
port_min = ${PORTS%-*}
port_max = ${PORTS#*-}
consumer = $PREFIX
clear_latch = sdp-host
CONF
MEDIA_SECTION=yes
if ! "$DP" -c "$D/dp.conf" --check-config >"$D/dp-check.log" 2>&1; then
	if grep -q '\[media\]: unknown section' "$D/dp-check.log"; then
		# Today's dataplane: no media anchor built in. Run without the section so that the
		# rest (registration, call, capture, analysis) is exercised; the media checks fail.
		MEDIA_SECTION=no
		echo "note: this dataplane has no [media] section ($(grep -o '\[media\]: unknown section' "$D/dp-check.log")):" \
			"started without it, the media checks will fail"
		sed -i '/^# media_call.sh: the media anchor/,$d' "$D/dp.conf"
		"$DP" -c "$D/dp.conf" --check-config >"$D/dp-check.log" 2>&1 ||
			{ cat "$D/dp-check.log" >&2; pr_fail "the dataplane refuses its configuration"; }
	else
		cat "$D/dp-check.log" >&2
		pr_fail "the dataplane refuses its configuration"
	fi
fi
ip netns exec mc-pop "$DP" -c "$D/dp.conf" >"$D/dp.out" 2>"$D/dp.log" &
DP_PID=$!
pr_on_exit "kill $DP_PID 2>/dev/null; for _w in \$(seq 50); do kill -0 $DP_PID 2>/dev/null || break; sleep 0.1; done; kill -9 $DP_PID 2>/dev/null"
pr_wait_for 30 $TEL $PREFIX /poprelay/info || setup_fail "the dataplane did not come up"
ip netns exec mc-alice ping -c 1 -W 3 $DP_IP >/dev/null || setup_fail "alice gets no answer from the dataplane at $DP_IP"
ip netns exec mc-bob ping -c 1 -W 3 $DP_IP >/dev/null || setup_fail "bob gets no answer from the dataplane at $DP_IP"
echo "ok: dataplane up on $DP_IP (hugepages: $huge, [media] section: $MEDIA_SECTION), answering both devices"

# --- slowpath, users -----------------------------------------------------------------------
sp_certs "$D"
SP_NETNS=mc-pop
# baresip 1.0 (libre 1.0) aborts on a SHA-256 challenge: offer MD5 only
sp_config "$D" 5061 5060 "digest_algorithms = MD5"
sed -i "s|^media_addr = .*|media_addr = $DP_IP|" "$D/sp.conf"
grep -q "^media_addr = $DP_IP\$" "$D/sp.conf" && grep -q "^media_ports = $PORTS\$" "$D/sp.conf" ||
	pr_fail "sp.conf: media_addr/media_ports not set"
sp_start "$D"
sp_user_add "$D" alice "$SP_PW_alice"
sp_user_add "$D" bob "$SP_PW_bob"

# --- devices -------------------------------------------------------------------------------
python3 "$MEDIA/tone.py" gen "$D/alice.wav" $ALICE_HZ 20
python3 "$MEDIA/tone.py" gen "$D/bob.wav" $BOB_HZ 20
bs_conf() { # name interface ip password
	local n=$1 ifc=$2 ip=$3 pw=$4
	mkdir -p "$D/$n"
	# (snd_path: where the sndfile filter dumps the audio encoded and decoded)
	cat >"$D/$n/config" <<CFG
poll_method epoll
sip_listen $ip:5070
sip_cafile $D/ca.crt
sip_trans_def tls
net_interface $ifc
audio_source aufile,$D/$n.wav
snd_path $D/$n
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module sndfile.so
module srtp.so
module_app account.so
module_app menu.so
CFG
	echo "<sip:$n@poprelay;transport=tls>;auth_pass=$pw;outbound=\"sip:$SP_ADDR:5061;transport=tls\";audio_codecs=PCMU,PCMA;mediaenc=srtp-mand;answermode=auto;regint=600" >"$D/$n/accounts"
}
bs_conf alice mc-a $ALICE_IP "$SP_PW_alice"
bs_conf bob mc-b $BOB_IP "$SP_PW_bob"

ip netns exec mc-bob baresip -s -f "$D/bob" -t 40 >"$D/bob.log" 2>&1 </dev/null &
BOB=$!
pr_on_exit "kill -9 $BOB 2>/dev/null"
pr_wait_for 10 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:reg:bob transport)\" = tls ]" ||
	setup_fail "bob did not register over TLS"
[ "$(R HGET pr:reg:bob src_addr)" = $BOB_IP ] || setup_fail "bob registered from $(R HGET pr:reg:bob src_addr)"
echo "ok: bob registered over TLS from $BOB_IP"

# --- capture: every UDP datagram on each device's link ---------------------------------------
for l in a b; do
	ifc=mc-l$l
	ip netns exec mc-lan dumpcap -q -P -i $ifc -f udp -w "$D/leg-$l.pcap" >/dev/null 2>"$D/cap-$l.err" &
	pid=$!
	eval "CAP_$l=$pid"
	pr_on_exit "kill -INT $pid 2>/dev/null; sleep 0.3; kill -9 $pid 2>/dev/null"
	pr_wait_for 10 grep -q "Capturing on" "$D/cap-$l.err" || setup_fail "dumpcap on $ifc did not start"
done

# --- the call ------------------------------------------------------------------------------
ip netns exec mc-alice baresip -s -f "$D/alice" -e "/dial sip:bob@poprelay" -t $CALL_S \
	>"$D/alice.log" 2>&1 </dev/null &
ALICE=$!
pr_on_exit "kill -9 $ALICE 2>/dev/null"
pr_wait_for 10 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 1" ||
	setup_fail "no media session installed (the call was not set up)"
sid=$(R SMEMBERS pr:sessions)
R HGETALL "pr:session:$sid" >"$D/session.txt" # (holds the legs' keys: stays in $D)
S() { awk -v k="$1" 'NR % 2 == 1 && $0 == k { getline; print; exit }' "$D/session.txt"; }
[ "$(S a_relay_addr)" = $DP_IP ] && [ "$(S b_relay_addr)" = $DP_IP ] ||
	setup_fail "the session anchors on $(S a_relay_addr)/$(S b_relay_addr), not on the dataplane's $DP_IP"
[ "$(S a_peer_addr)" = $ALICE_IP ] && [ "$(S b_peer_addr)" = $BOB_IP ] ||
	setup_fail "the session's peers are $(S a_peer_addr)/$(S b_peer_addr)"
[ "$(S a_encrypted)" = 1 ] && [ "$(S b_encrypted)" = 1 ] || setup_fail "a leg of the session is not SRTP"
echo "ok: call set up: session $sid, alice $ALICE_IP <-> $DP_IP:$(S a_relay_port) | $DP_IP:$(S b_relay_port) <-> bob $BOB_IP ($(S a_suite) / $(S b_suite))"
sleep 3
$TEL $PREFIX /poprelay/media/stats /poprelay/stats /poprelay/drops >"$D/tel-mid.json" 2>&1

wait $ALICE
pr_wait_for 5 bash -c "redis-cli -s '$D/redis.sock' SCARD pr:sessions | grep -qx 0" || setup_fail "the session did not end"
# the dataplane acknowledges the end once it added its last figures to the CDR
applied() {
	[ "$(R XPENDING pr:sessions:stream dataplane | head -1)" = 0 ] &&
		[ "$(R XINFO GROUPS pr:sessions:stream | sed -n '/^last-delivered-id$/{n;p}')" = \
			"$(R XREVRANGE pr:sessions:stream + - COUNT 1 | head -1)" ]
}
pr_wait_for 10 applied || setup_fail "the dataplane did not apply the session's end"
cdr=$(R ZRANGE pr:cdrs 0 -1)
[ -n "$cdr" ] || setup_fail "no CDR"
[ "$(R HGET "pr:cdr:$cdr" end_reason)" = bye-caller ] && [ "$(R HGET "pr:cdr:$cdr" answer)" -gt 0 ] ||
	setup_fail "CDR $cdr: the call was not answered and hung up by alice ($(R HGET "pr:cdr:$cdr" end_reason))"
echo "ok: call answered, hung up by alice after $(R HGET "pr:cdr:$cdr" duration_s) s"
kill $BOB 2>/dev/null
wait $BOB 2>/dev/null
sleep 0.5
for l in a b; do
	eval "pid=\$CAP_$l"
	kill -INT "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
done
$TEL $PREFIX /poprelay/media/stats /poprelay/stats /poprelay/drops >"$D/tel-end.json" 2>&1
pr_log "captured $(stat -c %s "$D/leg-a.pcap") and $(stat -c %s "$D/leg-b.pcap") bytes of UDP on the legs"

# --- checks (each one reported; any failure fails the test at the end) ----------------------
FAILS=()
check() { # NAME CMD...: run CMD, which prints its own ok:/FAIL: lines
	local name=$1
	shift
	"$@" || FAILS+=("$name")
}
# 1. audio: each side heard the other side's tone. baresip 1.0's aufile module is a source
# only (no player): the sndfile filter dumps what each device encoded (-enc.wav: its own
# tone, a sanity check of the device) and what it decoded from the SRTP it received
# (-dec.wav: the relay's work).
check_audio() {
	local rc=0 n f
	for n in alice bob; do
		for f in enc dec; do
			set -- "$D/$n"/dump-*-$f.wav
			[ $# = 1 ] && [ -f "$1" ] || { echo "FAIL: $n: expected one sndfile $f dump, found: $*"; rc=1; }
		done
	done
	[ $rc = 0 ] || return 1
	python3 "$MEDIA/tone.py" check "$D"/alice/dump-*-enc.wav $ALICE_HZ $BOB_HZ --label "alice sent her tone" || rc=1
	python3 "$MEDIA/tone.py" check "$D"/bob/dump-*-enc.wav $BOB_HZ $ALICE_HZ --label "bob sent his tone" || rc=1
	python3 "$MEDIA/tone.py" check "$D"/alice/dump-*-dec.wav $BOB_HZ $ALICE_HZ --label "alice heard bob" || rc=1
	python3 "$MEDIA/tone.py" check "$D"/bob/dump-*-dec.wav $ALICE_HZ $BOB_HZ --label "bob heard alice" || rc=1
	return $rc
}
check audio check_audio

# 2. the wire: SRTP only, per-leg keys, through the relay
check_wire() {
	python3 "$MEDIA/srtp_wire.py" --relay $DP_IP --ports $PORTS --tones $ALICE_HZ,$BOB_HZ \
		--session "$D/session.txt" a=$ALICE_IP:"$D/leg-a.pcap" b=$BOB_IP:"$D/leg-b.pcap" \
		2> >(sed 's/^/  /' >&2) >"$D/wire.out"
	local rc=$?
	cat "$D/wire.out"
	return $rc
}
check wire check_wire

# 3. the dataplane consumed the session stream
check_stream() {
	local groups consumers
	groups=$(R XINFO GROUPS pr:sessions:stream 2>&1 | paste -sd' ')
	consumers=$(R XINFO CONSUMERS pr:sessions:stream dataplane 2>&1 | paste -sd' ')
	python3 - "$groups" "$consumers" "$(R XREVRANGE pr:sessions:stream + - COUNT 1 | head -1)" "$PREFIX" <<'PY'
import sys
groups, consumers, last, me = sys.argv[1].split(), sys.argv[2].split(), sys.argv[3], sys.argv[4]
def fields(words, name):
    # XINFO replies flattened to "k v k v ..." per entry; find the entry whose name is `name`
    for i in range(0, len(words) - 1):
        if words[i] == "name" and words[i + 1] == name:
            return dict(zip(words[i::2], words[i + 1::2]))
    return None
g = fields(groups, "dataplane")
c = fields(consumers, me)
if not g:
    print(f"FAIL: no consumer group 'dataplane' on pr:sessions:stream ({' '.join(groups) or 'none'})")
    sys.exit(1)
ok = g.get("pending") == "0" and g.get("last-delivered-id") == last and c is not None
print(("ok: " if ok else "FAIL: ") + f"the dataplane consumed pr:sessions:stream: group dataplane "
      f"pending {g.get('pending')}, last delivered {g.get('last-delivered-id')} (stream's last {last}), "
      f"consumer {me} {'present' if c else 'absent'}")
sys.exit(0 if ok else 1)
PY
}
check stream check_stream

# 4. the CDR's media figures
check_cdr() {
	R HGETALL "pr:cdr:$cdr" >"$D/cdr.txt"
	python3 - "$D/cdr.txt" "$D/leg-a.pcap" "$D/leg-b.pcap" $ALICE_IP $BOB_IP $DP_IP "$MEDIA" <<'PY'
import sys
cdr_f, pa, pb, alice, bob, relay, media = sys.argv[1:]
sys.path.insert(0, media)
import srtp_wire
lines = open(cdr_f).read().splitlines()
cdr = dict(zip(lines[0::2], lines[1::2]))
def wire(pcap, dev):
    up = down = 0
    for _, src, dst, sp, dp, _ in srtp_wire.read_pcap(pcap):
        up += src == dev and dst == relay and 31000 <= dp <= 31999
        down += src == relay and dst == dev and 31000 <= sp <= 31999
    return up, down
w = {"caller": wire(pa, alice), "callee": wire(pb, bob)}
bad = []
for y in ("caller", "callee"):
    for f in ("lost", "jitter_us"):
        if f"{y}_{f}" not in cdr:
            bad.append(f"{y}_{f} absent")
    rx, tx = int(cdr.get(f"{y}_rx_packets", 0) or 0), int(cdr.get(f"{y}_tx_packets", 0) or 0)
    if rx <= 0 or tx <= 0:
        bad.append(f"{y} rx/tx packets {rx}/{tx}")
    if rx > w[y][0] or tx > w[y][1]:
        bad.append(f"{y} rx/tx packets {rx}/{tx} above the wire's {w[y][0]}/{w[y][1]}")
    # every packet the relay sent is in the CDR (the dataplane adds what came after its last
    # one-second write when the session ends); of what the device sent, all but the few
    # before the session was installed and its clear RTCP
    if tx != w[y][1] and tx + 2 < w[y][1]:
        bad.append(f"{y} tx packets {tx}: the wire saw the relay send {w[y][1]}")
    if rx + 12 < w[y][0]:
        bad.append(f"{y} rx packets {rx}: the device sent {w[y][0]} to the relay")
desc = ", ".join(f"{y} rx {cdr.get(y + '_rx_packets')} tx {cdr.get(y + '_tx_packets')} "
                 f"(wire {w[y][0]}/{w[y][1]}) lost {cdr.get(y + '_lost')} "
                 f"jitter {cdr.get(y + '_jitter_us')} us" for y in ("caller", "callee"))
print(("ok: " if not bad else "FAIL: ") + f"CDR {cdr.get('id')} media figures: {desc}"
      + (f" -- {'; '.join(bad)}" if bad else ""))
sys.exit(1 if bad else 0)
PY
}
check cdr check_cdr

# 5. the dataplane's telemetry
check_telemetry() {
	python3 - "$D/tel-mid.json" "$D/tel-end.json" <<'PY'
import json, sys
def load(p):
    try:
        return json.load(open(p))
    except ValueError:
        return {"error": open(p).read().strip()}
mid, end = load(sys.argv[1]), load(sys.argv[2])
m, e = mid.get("/poprelay/media/stats"), end.get("/poprelay/media/stats")
drops = {k: v for k, v in (end.get("/poprelay/drops") or {}).items() if v}
if not isinstance(m, dict) or not isinstance(e, dict):
    print(f"FAIL: telemetry /poprelay/media/stats: no such command or no dict "
          f"(mid-call {m!r}, after {e!r}); drops: {drops}")
    sys.exit(1)
# (relayed counts the live sessions' packets: read mid-call)
# the one call's two legs are SRTP and both devices were heard (latched) mid-call
ok = (m.get("sessions", 0) >= 1 and m.get("relayed", 0) > 0 and
      m.get("legs") == 2 * m.get("sessions", 0) and m.get("legs_srtp") == m.get("legs") and
      m.get("legs_latched") == m.get("legs"))
print(("ok: " if ok else "FAIL: ") + f"telemetry /poprelay/media/stats: mid-call sessions "
      f"{m.get('sessions')} relayed {m.get('relayed')} legs {m.get('legs')} srtp "
      f"{m.get('legs_srtp')} latched {m.get('legs_latched')}; after the call sessions "
      f"{e.get('sessions')} relayed {e.get('relayed')}" + ("" if ok else f"; drops: {drops}"))
sys.exit(0 if ok else 1)
PY
}
check telemetry check_telemetry

kill -0 "$SP_PID" 2>/dev/null || FAILS+=("slowpath died")
kill -0 "$DP_PID" 2>/dev/null || FAILS+=("dataplane died")
if [ ${#FAILS[@]} -gt 0 ]; then
	[ $MEDIA_SECTION = no ] && echo "note: the dataplane ran without a [media] section (not built in yet)" >&2
	dump_logs
	pr_fail "media checks failed: ${FAILS[*]}"
fi
echo "PASS"
