#!/usr/bin/env bash
# parallel: heavy slow
# TURN over TCP and TLS end to end with coturn's own client: the dataplane as in the UDP
# tests (turn/env.sh: its port on net_af_packet in ts-pop, the peer in ts-cli), and
# poprelay-turnfront in ts-pop on a kernel interface of its own (the signalling NIC,
# 192.0.2.10, a second veth to ts-cli), attached to the dataplane over its stream socket.
# turnutils_uclient -t (TCP) and -S (TLS): channel mode and Send indications (-s), 50
# concurrent clients (-m 50), zero loss at a paced rate; a wrong password and a loopback or
# private peer are refused; every allocation says its transport; a client that closes its
# connection ends its allocation, also when 900 close at once (7 times the punt ring); kill -9 of the front: the allocations stay, a new front
# attaches and serves new clients.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/turn/env.sh"
TF=$BUILD/poprelay-turnfront
[ -x "$TF" ] || pr_fail "$TF not built"
PW=Stream-turn-42-otter

# a small punt ring: a burst of closes must wait for it, not overflow it (below)
TE_DP_EXTRA='punt_ring_size = 128' te_up ts 'max_allocations_per_user = 4000'
pr_veth ts-pop ts1p ts-cli ts1c
ip -n ts-pop addr add 192.0.2.10/24 dev ts1p
ip -n ts-cli addr add 192.0.2.20/24 dev ts1c
ip -n ts-cli addr add 192.0.2.21/24 dev ts1c # the flooder's address
printf '%s\n' "$PW" | te_ctl user add alice >/dev/null || pr_fail "poprelayctl user add"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=turn.ts.example -keyout "$TE_DIR/tf.key" -out "$TE_DIR/tf.crt" 2>/dev/null ||
	pr_fail "openssl req"
cat >>"$TE_DIR/dp.conf" <<CONF
[turn_front]
dataplane_socket = /var/run/dpdk/$TE_PREFIX/turn_front.sock
tcp_listen = 192.0.2.10:3478
tls_listen = 192.0.2.10:5349
tls_cert = $TE_DIR/tf.crt
tls_key = $TE_DIR/tf.key
first_message_s = 3
max_per_source = 150
CONF
# the dataplane skips [turn_front]; the front refuses what is wrong in it, naming the key
printf '[turn_front]\ntcp_listen = 192.0.2.10\n' >"$TE_DIR/bad.conf"
if "$TF" -c "$TE_DIR/bad.conf" --check-config 2>"$TE_DIR/bad.err"; then
	pr_fail "a listener without a port was accepted"
fi
grep -q 'tcp_listen' "$TE_DIR/bad.err" || { cat "$TE_DIR/bad.err" >&2; pr_fail "the refusal does not name tcp_listen"; }

start_tf() {
	ip netns exec ts-pop "$TF" -c "$TE_DIR/dp.conf" >>"$TE_DIR/tf.log" 2>&1 &
	tf_pid=$!
	pr_on_exit "kill -9 $tf_pid 2>/dev/null"
	pr_wait_for 10 sh -c "[ \"\$($TE_TEL $TE_PREFIX /poprelay/turn/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"/poprelay/turn/stats\"][\"stream_front_attached\"])')\" = 1 ]" ||
		{ cat "$TE_DIR/tf.log" >&2; te_dump; pr_fail "the front did not attach to the dataplane"; }
}
start_tf
pr_log "front attached: $(grep -m1 attached "$TE_DIR/tf.log")"
te_ctl status >"$TE_DIR/status.txt" || { cat "$TE_DIR/status.txt" >&2; pr_fail "poprelayctl status: not every process up with the front attached"; }
grep -Eq '^turnfront +up +attached' "$TE_DIR/status.txt" || { cat "$TE_DIR/status.txt" >&2; pr_fail "poprelayctl status does not show the front attached"; }

pr_log "TCP, channel mode"
te_uclient tcp_chan ok -t -u alice -w "$PW" -e $TE_PEER -r 3480 -n 50 -l 200 -z 10 -c -p 3478 192.0.2.10
pr_log "TCP, Send indications (-s)"
te_uclient tcp_send ok -t -u alice -w "$PW" -e $TE_PEER -r 3480 -n 50 -l 200 -z 10 -c -s -p 3478 192.0.2.10
pr_log "TLS, channel mode"
te_uclient tls_chan ok -t -S -u alice -w "$PW" -e $TE_PEER -r 3480 -n 50 -l 200 -z 10 -c -p 5349 192.0.2.10
pr_log "TLS, Send indications (-s)"
te_uclient tls_send ok -t -S -u alice -w "$PW" -e $TE_PEER -r 3480 -n 50 -l 200 -z 10 -c -s -p 5349 192.0.2.10
pr_log "TCP, 50 concurrent clients (-m 50), paced"
te_uclient tcp_m50 ok -t -u alice -w "$PW" -e $TE_PEER -r 3480 -m 50 -n 20 -l 200 -z 20 -c -p 3478 192.0.2.10
pr_log "TLS, 50 concurrent clients (-m 50), paced"
te_uclient tls_m50 ok -t -S -u alice -w "$PW" -e $TE_PEER -r 3480 -m 50 -n 20 -l 200 -z 20 -c -p 5349 192.0.2.10
[ "$(te_stat stream_tcp_connections)" -ge 52 ] || { te_dump; pr_fail "TCP connections not counted"; }
[ "$(te_stat stream_tls_connections)" -ge 52 ] || { te_dump; pr_fail "TLS connections not counted"; }
pr_log "ok: counted: $(te_stat stream_tcp_connections) TCP and $(te_stat stream_tls_connections) TLS connections, $(te_stat stream_tls_rx_msgs) TLS messages in, $(te_stat stream_tls_tx_msgs) out"

pr_log "refusals"
before401=$(te_stat err_401)
te_uclient tcp_wrongpw fail -t -u alice -w not-the-password -e $TE_PEER -r 3480 -n 5 -c -p 3478 192.0.2.10
[ "$(te_stat err_401)" -gt "$before401" ] || pr_fail "wrong password over TCP not answered 401"
before403=$(te_stat err_403)
te_uclient tls_loopback fail -t -S -u alice -w "$PW" -e 127.0.0.1 -r 3480 -n 5 -c -p 5349 192.0.2.10
te_uclient tls_private fail -t -S -u alice -w "$PW" -e 10.1.2.3 -r 3480 -n 5 -c -p 5349 192.0.2.10
[ "$(te_stat err_403)" -ge $((before403 + 2)) ] || { te_dump; pr_fail "loopback/private peers over TLS not answered 403"; }

pr_log "closed connections end their allocations"
# every uclient above closed its connections: nothing of theirs is left
pr_wait_for 5 sh -c "[ \"\$(python3 $PR_ROOT/tests/integration/dp_telemetry.py $TE_PREFIX /poprelay/turn/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"/poprelay/turn/stats\"][\"allocations\"])')\" = 0 ]" ||
	{ te_dump; pr_fail "allocations of closed TCP/TLS connections left: $(te_stat allocations)"; }
pr_log "ok: no allocation left, $(te_stat stream_closed) connections closed"

pr_log "kill -9 of the front: the allocations stay, a new front serves"
# a TLS client that holds its allocation (-n 400 at 20 ms: 8 s) while the front dies
ip netns exec ts-cli timeout 30 turnutils_uclient -t -S -u alice -w "$PW" -e $TE_PEER -r 3480 \
	-n 400 -l 200 -z 20 -c -p 5349 192.0.2.10 >"$TE_DIR/uc-held.log" 2>&1 &
held=$!
pr_wait_for 10 sh -c "[ \"\$(python3 $PR_ROOT/tests/integration/dp_telemetry.py $TE_PREFIX /poprelay/turn/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"/poprelay/turn/stats\"][\"allocations\"])')\" -ge 1 ]" ||
	{ te_dump; pr_fail "the held TLS client made no allocation"; }
te_ctl turn allocations list >"$TE_DIR/allocs.txt" || pr_fail "poprelayctl turn allocations list"
grep -q tls "$TE_DIR/allocs.txt" || { cat "$TE_DIR/allocs.txt" >&2; pr_fail "the TLS client's allocation does not say tls"; }
id=$(te_rcli ZRANGE pr:turn:allocs 0 -1 | head -1)
[ "$(te_rcli HGET "pr:turn:alloc:$id" transport)" = tls ] || pr_fail "the allocation's record in Redis does not say tls"
kill -9 $tf_pid
sleep 1
n=$(te_stat allocations)
[ "$n" -ge 1 ] || { te_dump; pr_fail "the front's death took the allocations with it"; }
[ "$(te_stat stream_front_attached)" = 0 ] || pr_fail "the dataplane still counts the dead front attached"
st=0
te_ctl status >"$TE_DIR/status.txt" || st=$?
[ "$st" = 3 ] && grep -Eq '^down: .*turnfront' "$TE_DIR/status.txt" ||
	{ cat "$TE_DIR/status.txt" >&2; pr_fail "poprelayctl status (exit $st) does not say the front is down"; }
kill $held 2>/dev/null || true
wait $held 2>/dev/null || true
start_tf
[ "$(te_stat allocations)" -ge 1 ] || pr_fail "the allocation did not outlive the front"
te_uclient tcp_after ok -t -u alice -w "$PW" -e $TE_PEER -r 3480 -n 20 -l 200 -z 10 -c -p 3478 192.0.2.10
te_uclient tls_after ok -t -S -u alice -w "$PW" -e $TE_PEER -r 3480 -n 20 -l 200 -z 10 -c -p 5349 192.0.2.10
pr_log "ok: $n allocation(s) outlived the front; the restarted one serves TCP and TLS"

pr_log "hostile input"
# a 64 KiB STUN length: closed, counted
ip netns exec ts-cli python3 -c "
import socket, struct, sys
s = socket.create_connection(('192.0.2.10', 3478), timeout=5)
s.sendall(struct.pack('!HHI', 0x0001, 0xFFFC, 0x2112A442) + b'x' * 12)
s.settimeout(5)
try:
    d = s.recv(100)
except ConnectionResetError:
    d = b''
sys.exit(0 if d == b'' else 1)
" || pr_fail "64 KiB STUN length: the front did not close the connection"
[ "$(te_stat stream_too_long)" -ge 1 ] || { te_dump; pr_fail "too_long not counted"; }
# a TLS handshake that never finishes, and a slowloris: both timed out (first_message_s = 3)
t0=$(te_stat stream_timeout_first)
ip netns exec ts-cli python3 -c "
import socket, time, threading
def stall():
    s = socket.create_connection(('192.0.2.10', 5349)); s.sendall(b'\x16\x03\x01'); time.sleep(6)
def loris():
    s = socket.create_connection(('192.0.2.10', 3478))
    for b in b'\x00\x01\x00\x00\x21':
        try: s.send(bytes([b]))
        except OSError: return
        time.sleep(1.5)
ts = [threading.Thread(target=f) for f in (stall, loris)]
[t.start() for t in ts]; [t.join() for t in ts]
"
[ "$(te_stat stream_timeout_first)" -ge $((t0 + 2)) ] || { te_dump; pr_fail "a stalled handshake and a slowloris were not both timed out"; }
pr_log "ok: 64 KiB length closed ($(te_stat stream_too_long)), stalled handshake and slowloris timed out ($(te_stat stream_timeout_first))"
# a connection flood from one source (192.0.2.21): refused beyond max_per_source (150),
# counted; a client from another address, beside it, relays with zero loss
r0=$(te_stat stream_refused_source)
ip netns exec ts-cli python3 -c "
import socket, time
held = []
for i in range(220):
    s = socket.socket()
    s.bind(('192.0.2.21', 0))
    try:
        s.connect(('192.0.2.10', 3478))
        held.append(s)
    except OSError:
        pass
time.sleep(6)
" &
flood=$!
sleep 1
te_uclient beside_flood ok -t -u alice -w "$PW" -e $TE_PEER -r 3480 -n 50 -l 200 -z 10 -c -p 3478 192.0.2.10
wait $flood || true
[ "$(te_stat stream_refused_source)" -ge $((r0 + 50)) ] || { te_dump; pr_fail "a flood of 220 connections from one source: only $(($(te_stat stream_refused_source) - r0)) refused"; }
pr_log "ok: flood from one source: $(($(te_stat stream_refused_source) - r0)) connections refused, the client beside it unaffected"

# a burst of closes: 900 connections with allocations closed at once all end their
# allocations (their "gone" records wait in the front's ring while the punt ring is full;
# they overflowed it and left allocations behind)
GEN=$BUILD/tests/bench/turn/tcpgen
[ -x "$GEN" ] || pr_fail "$GEN not built"
for i in $(seq 30 49); do ip -n ts-cli addr add 192.0.2.$i/24 dev ts1c; done
a0=$(te_stat allocations)
pf() { $TE_TEL $TE_PREFIX /poprelay/drops | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/drops']['punt_ring_full'])"; }
pf0=$(pf)
ip netns exec ts-cli "$GEN" --server 192.0.2.10:3478 --src 192.0.2.30 --nsrc 20 --conns 900 \
	--user alice --pass "$PW" --peer 203.0.113.5:3490 --hold >"$TE_DIR/hold.json" 2>"$TE_DIR/hold.err" &
gp=$!
pr_on_exit "kill $gp 2>/dev/null"
pr_wait_for 90 grep -q "ready" "$TE_DIR/hold.err" || { tail -5 "$TE_DIR/hold.err" >&2; te_dump; pr_fail "tcpgen did not set up its connections"; }
held=$(te_stat allocations)
[ "$held" -ge $((a0 + 890)) ] || { tail -5 "$TE_DIR/hold.err" >&2; te_dump; pr_fail "900 connections made $((held - a0)) allocations"; }
kill $gp
wait $gp 2>/dev/null || true
pr_wait_for 20 sh -c "[ \"\$(python3 $PR_ROOT/tests/integration/dp_telemetry.py $TE_PREFIX /poprelay/turn/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"/poprelay/turn/stats\"][\"allocations\"])')\" = $a0 ]" ||
	{ te_dump; pr_fail "after 900 connections closed at once, $(($(te_stat allocations) - a0)) of their allocations are left"; }
[ "$(pf)" = "$pf0" ] || pr_fail "the burst of closes overflowed the punt ring ($(($(pf) - pf0)) dropped)"
pr_log "ok: $((held - a0)) allocations over TCP, all ended when their connections closed at once"

# backpressure: a client that stops reading (tcpgen stopped with SIGSTOP) while a peer sends
# it 20 MB gets what the kernel's buffers and the front's bounded queue (out_buffer_kb, 64 KiB)
# hold; the rest is dropped and counted, the front's memory stays bounded, and a client beside
# it relays with zero loss. Over TCP and over TLS (whose queue keeps whole records).
pr_log "backpressure: a client that stops reading"
ip -n ts-cli addr add 192.0.2.50/24 dev ts1c
ip -n ts-cli addr add 192.0.2.51/24 dev ts1c
slow_reader() { # $1: tcp|tls, $2: the client's address, $3: a peer port
	local port=3478 tls='' uc='' d0 sp relay rss0 rss1 blast dropped
	[ "$1" = tls ] && port=5349 tls=--tls uc=-S
	d0=$(te_stat stream_tx_dropped_slow)
	# shellcheck disable=SC2086
	ip netns exec ts-cli "$GEN" --server 192.0.2.10:$port $tls --src "$2" --conns 1 \
		--user alice --pass "$PW" --peer 203.0.113.5:$3 --hold >"$TE_DIR/slow-$1.json" 2>"$TE_DIR/slow-$1.err" &
	sp=$!
	pr_on_exit "kill -CONT $sp 2>/dev/null; kill $sp 2>/dev/null"
	pr_wait_for 30 grep -q "ready" "$TE_DIR/slow-$1.err" || { tail -5 "$TE_DIR/slow-$1.err" >&2; te_dump; pr_fail "$1: tcpgen did not set up its connection"; }
	relay=$(te_ctl turn allocations list | awk -v c="$2:" 'index($4, c) == 1 {print $5}')
	[ -n "$relay" ] || { te_ctl turn allocations list >&2; pr_fail "$1: no allocation for the client from $2"; }
	[ -r "/proc/$tf_pid/status" ] || pr_fail "no poprelay-turnfront process ($tf_pid, start_tf's)"
	rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$tf_pid/status")
	kill -STOP $sp
	# from the peer's address (its permission), another port: Data indications to the client
	ip netns exec ts-cli python3 - "$relay" $(($3 + 1)) <<'PY' &
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("203.0.113.5", int(sys.argv[2])))
for i in range(20000):
    s.sendto(b"x" * 1000, (host, int(port)))
    if i % 200 == 199:
        time.sleep(0.01)
PY
	blast=$!
	# shellcheck disable=SC2086
	te_uclient beside_slow_$1 ok -t $uc -u alice -w "$PW" -e $TE_PEER -r 3480 -n 50 -l 200 -z 10 -c -p $port 192.0.2.10
	wait $blast
	for _ in $(seq 50); do
		[ "$(te_stat stream_tx_dropped_slow)" -ge $((d0 + 10000)) ] && break
		sleep 0.1
	done
	dropped=$(($(te_stat stream_tx_dropped_slow) - d0))
	rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$tf_pid/status")
	kill -CONT $sp
	kill $sp
	wait $sp 2>/dev/null || true
	[ "$dropped" -ge 10000 ] || { te_dump; pr_fail "$1: a client that stopped reading: $dropped of 20,000 datagrams dropped (stream_tx_dropped_slow), expected most"; }
	# (the ring toward the front, 4 MiB, is touched whole as 20 MB pass through it: about
	# 4 MiB of growth; the datagrams not dropped would be 19 MB)
	[ $((rss1 - rss0)) -lt 8192 ] || pr_fail "$1: the front grew by $((rss1 - rss0)) kB for a client that stopped reading"
	pr_log "ok: $1: a client that stopped reading: $dropped of 20,000 messages dropped and counted, the front grew by $((rss1 - rss0)) kB, the client beside it unaffected"
}
slow_reader tcp 192.0.2.50 3491
slow_reader tls 192.0.2.51 3493
