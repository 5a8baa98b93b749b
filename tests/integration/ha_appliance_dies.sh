#!/usr/bin/env bash
# parallel: hugepages heavy slow
# An appliance dies (issue 20, Tests; docs/scaling.md, "Appliances N+1"): two whole
# appliances, each a dataplane, a slowpath and one keepalived running the shipped dataplane
# instances (images/keepalived-poprelay.conf, tests/integration/ha/keepalived.sh) and the
# shipped SIP instance (images/keepalived-poprelay-sip.conf: the SIP service address
# V = 198.51.100.5 on the appliance's kernel interface; [sip] freebind, keepalive_s 10), one
# Redis, on the segment of tests/integration/ha/haenv.sh (A's dataplane owns X = .10, B's
# Y = .11; each the other's backup, [ha] lease_ms 600). Real clients, each in its namespace:
# two baresip devices ann (.21) and ben (.22) registered over TLS with RFC 5626 outbound to V,
# in a call with SDES-SRTP anchored on X (ann plays 440 Hz, ben 1000 Hz); the TURN client of
# ha_keepalived.sh (ha_turn.py, ChannelData every 20 ms to turnutils_peer) allocated on X; a
# registration storm (tests/integration/ha/regstorm.py: 40 devices over TLS to V, 30 of them
# REGISTERing again and again). Then appliance A dies: its two interfaces down, kill -9 of
# its dataplane, its slowpath and its keepalived. Scenarios, each "ok: ...":
#   a  A MASTER of its addresses' instance and of the SIP instance (V on A), B BACKUP of
#      both; ann and ben registered through A; ann calls ben (session anchored on X);
#      each device hears the other's tone through A
#   b  A dies during all three: B's keepalived becomes MASTER of poprelay_a and of
#      poprelay_sip, B's dataplane holds X, V is on B's interface
#   c  the call (no re-INVITE, no BYE: the devices' flows died with A): each device hears
#      the other's tone again after the gap, at least 2 s of it (the audio each decoded
#      after the kill, tests/integration/media/tone.py); the gap measured at each device
#      (tests/integration/ha/gaps.py on captures of what reached it from X) under 2 s;
#      B's dataplane relays the session
#   d  TURN: the data goes on through B from the same relayed address, a Refresh succeeds;
#      its gap under 2 s (measured, 5 runs: 480-1350 ms at the devices, TURN 490-1510 ms,
#      the slowest with a load of 10-14; tests/bench/ha_failover.sh measures the gaps
#      against their 1 s target)
#   e  the storm: 30 devices had REGISTERs acknowledged before the kill and after it
#      (through B), and each ended on an acknowledged one; 10 more registered once through A
#      before the kill and said nothing since (their flows died with A); after B took A's
#      calls over (its log), every device's binding is in Redis with the flow (source port)
#      its last 200 acknowledged
#   f  ann and ben notice their dead flows and register again through B on new flows
#      (RFC 5626 flow recovery, as in ha_sip.sh), their bindings present at every look
#      (every 200 ms) from before the kill to then
# Seen failing first: HZ_KA_SIP=no (no SIP instance in the keepalived configurations; V
# added to A by hand) fails in b (V is never B's: the storm and the devices never get
# back). Checks of the checks: HZ_KILL_B=yes (B's dataplane killed too, after d) fails in c
# (92 packets reached ann after the kill, not 150); HZ_LOSE=yes (one quiet device's binding
# deleted after the takeover) fails in e.
# Exits 0 (pass), 77 (skip), 1 (fail).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ha/haenv.sh"
. "$(dirname "$0")/ha/keepalived.sh"
. "$(dirname "$0")/slowpath/common.sh"
command -v turnutils_peer >/dev/null || pr_skip "coturn's turnutils_peer not installed"
command -v keepalived >/dev/null || pr_skip "keepalived not installed (make deps)"
command -v baresip >/dev/null || pr_skip "baresip not installed"
command -v dumpcap >/dev/null || pr_skip "dumpcap (wireshark-common) not installed"
[ -f /usr/lib/baresip/modules/ctrl_tcp.so ] || pr_skip "baresip's ctrl_tcp module not installed"
he_init hz hz-a hz-b
HE_GATEWAY4=$CLI
HE_READY=/poprelay/media/stats
HE_READY_S=30
SP=$BUILD/poprelay-slowpath
[ -x "$SP" ] || pr_fail "$SP not built"
KA_SIP=${HZ_KA_SIP:-yes}
PW='Ha-dies-turn-pw-5521'
V=198.51.100.5
IP_ann=198.51.100.21
IP_ben=198.51.100.22
HZ_ann=440
HZ_ben=1000
SP_PW_ann=ka3-Photon-ann
SP_PW_ben=vb9-Meson-ben
STORM_PW=Storm-dies-pw-7730
STORM_N=40
STORM_QUIET=10 # of them, registered once through A, silent since
CTRL=127.0.0.1:4444 # ann's ctrl_tcp, on her namespace's loopback
MEDIA=$PR_ROOT/tests/integration/media
GAPS="python3 $PR_ROOT/tests/integration/ha/gaps.py"

he_topology $CLI/24 $PEER/32
ka_topology
for n in ann ben; do
	pr_netns hz-$n
	ip netns exec hz-$n sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
	pr_veth hz-$n hz$n hz-br hzv$n
	ip -n hz-br link set hzv$n master hzbr
	eval "ip -n hz-$n addr add \$IP_$n/24 dev hz$n"
done
# V is a kernel address of the appliance's VRRP interface: its kernel must not answer ARP
# for V on the dataplane's port as well
for ns in hz-a hz-b; do ip netns exec $ns sysctl -qw net.ipv4.conf.all.arp_ignore=1; done

# --- configurations ---------------------------------------------------------------------------
conf() { # NAME OWN PEER_ADDR OWN_RELAY_MIN PEER_RELAY_MIN: as ha_keepalived.sh's
	he_conf $1 $2 $3
	echo "lease_ms = 600"
	echo "vrrp_fifo = $tmp/ka/$1.fifo"
	echo "vrrp_instance = poprelay_$([ $1 = a ] && echo b || echo a)"
	he_turn_media_conf $1 $3 $4 $5
}
conf a $X $Y 50000 51000 >"$tmp/a.conf"
conf b $Y $X 51000 50000 >"$tmp/b.conf"
printf '%s\n' "$PW" | "$CTL" -c "$tmp/a.conf" user add alice >/dev/null || pr_fail "user add"
# the slowpaths: one [sip] section on both, on V (freebind), media anchored on X (A's)
SP_ADDR=$V sp_certs "$tmp"
SP_ADDR=$V sp_config "$tmp" 5061 5060 "digest_algorithms = MD5" "keepalive_s = 10" "freebind = yes"
sed -i -e "s|^media_addr = .*|media_addr = $X|" -e "s|^media_ports = .*|media_ports = 31000-31199|" "$tmp/sp.conf"
sp_user_add "$tmp" ann "$SP_PW_ann"
sp_user_add "$tmp" ben "$SP_PW_ben"
python3 "$PR_ROOT/tests/integration/slowpath/users.py" "$STORM_PW" $STORM_N | rcli >/dev/null || pr_fail "storm users"
# each keepalived: ka_conf's dataplane instances and the shipped SIP instance, its track
# script a check of the test's slowpath process (systemd's unit on an appliance)
cat >"$tmp/ka/sp-alive" <<'SH'
#!/bin/sh
kill -0 "$(cat "$1")" 2>/dev/null
SH
chmod 755 "$tmp/ka/sp-alive"
for n in a b; do
	ka_conf $n >"$tmp/ka/$n.conf"
	[ "$KA_SIP" = yes ] || continue
	sed -e "s|interface eth0|interface hz${n}1|" -e "s|priority 100|priority $([ $n = a ] && echo 150 || echo 100)|" \
		-e "s|192.0.2.10/24|$V/24|" \
		-e "s|\"/usr/bin/systemctl is-active --quiet poprelay-slowpath.service\"|\"$tmp/ka/sp-alive $tmp/$n-sp.pid\"|" \
		-e "s|\"/usr/bin/poprelayctl ha sip-may-serve 192.0.2.10\"|\"$tmp/ka/poprelayctl -c $tmp/sp.conf ha sip-may-serve $V\"|" \
		"$PR_ROOT/images/keepalived-poprelay-sip.conf" >>"$tmp/ka/$n.conf"
	grep -q "sp-alive $tmp/$n-sp.pid" "$tmp/ka/$n.conf" && grep -q "$V/24" "$tmp/ka/$n.conf" &&
		grep -q "poprelayctl -c $tmp/sp.conf ha sip-may-serve $V" "$tmp/ka/$n.conf" ||
		pr_fail "the SIP instance's address or track script was not substituted"
done

sp_run() { # NAME: a slowpath in hz-NAME on the shared sp.conf (pid SP_NAME, $tmp/NAME-sp.pid)
	local n=$1 pid
	ip netns exec hz-$n "$SP" -c "$tmp/sp.conf" -v >"$tmp/$n-sp.log" 2>&1 &
	pid=$!
	echo $pid >"$tmp/$n-sp.pid"
	eval "SP_$n=$pid"
	pr_on_exit "kill -9 $pid 2>/dev/null"
	pr_wait_for 5 grep -q "listening:" "$tmp/$n-sp.log" || pr_fail "slowpath $n did not start: $(tail -3 "$tmp/$n-sp.log")"
}
v_on() { ip -n hz-$1 -4 addr show dev hz${1}1 | grep -q "inet $V/"; }

# --- a: both appliances, the clients through A ------------------------------------------------
he_start_dp a
he_turn_client "$PW"
he_start_dp b
[ "$KA_SIP" = yes ] || ip -n hz-a addr add $V/24 dev hza1
sp_run a
sp_run b
pr_log "dataplanes and slowpaths up, the TURN client relaying through A"
# A's keepalived first, so that A wins the SIP instance (nopreempt: whoever is MASTER keeps
# it); B's dataplane instance then preempts what A's took meanwhile
ka_run hz-a a
[ "$KA_SIP" = yes ] && { ka_wait_state a poprelay_sip MASTER 10 || pr_fail "A not MASTER of poprelay_sip: $(tail -5 "$tmp/ka/a.log")"; }
ka_run hz-b b
for n in a:b b:a; do
	o=${n%:*} p=${n#*:}
	ka_wait_state $o poprelay_$o MASTER 8 || pr_fail "$o's keepalived is not MASTER of poprelay_$o: $(tail -5 "$tmp/ka/$o.log")"
	ka_wait_state $p poprelay_$o BACKUP 5 || pr_fail "$p's keepalived is not BACKUP of poprelay_$o: $(tail -5 "$tmp/ka/$p.log")"
done
if [ "$KA_SIP" = yes ]; then
	ka_wait_state b poprelay_sip BACKUP 5 || pr_fail "B's poprelay_sip is $(ka_state b poprelay_sip), not BACKUP"
fi
pr_wait_for 5 v_on a || pr_fail "$V not on A's interface"
v_on b && pr_fail "$V on B's interface too"
[ "$(hstat b held)" = 0 ] && [ "$(hstat a held)" = 0 ] || pr_fail "a dataplane holds its peer's address with both alive"
pr_log "keepalived elected"

python3 "$MEDIA/tone.py" gen "$tmp/ann.wav" $HZ_ann 60
python3 "$MEDIA/tone.py" gen "$tmp/ben.wav" $HZ_ben 60
bs_conf() { # NAME [config lines...]
	local n=$1 ip pw
	shift
	eval "ip=\$IP_$n pw=\$SP_PW_$n"
	mkdir -p "$tmp/$n"
	{
		cat <<CFG
poll_method epoll
sip_listen $ip:5070
sip_cafile $tmp/ca.crt
sip_trans_def tls
net_interface $ip
audio_source aufile,$tmp/$n.wav
snd_path $tmp/$n
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module sndfile.so
module srtp.so
module uuid.so
module_app account.so
module_app menu.so
CFG
		local l
		for l in "$@"; do echo "$l"; done
	} >"$tmp/$n/config"
	# outbound: +sip.instance and reg-id=1, CRLF keepalives at the Flow-Timer
	echo "<sip:$n@poprelay;transport=tls>;auth_pass=$pw;outbound=\"sip:$V:5061;transport=tls\";sipnat=outbound;audio_codecs=PCMU,PCMA;mediaenc=srtp-mand;answermode=auto;regint=600" >"$tmp/$n/accounts"
}
bs_conf ben
bs_conf ann "module_app ctrl_tcp.so" "ctrl_tcp_listen $CTRL"
for n in ben ann; do
	ip netns exec hz-$n baresip -f "$tmp/$n" -t 600 >"$tmp/$n.log" 2>&1 </dev/null &
	pr_on_exit "kill -9 $! 2>/dev/null"
done
ctl() { ip netns exec hz-ann python3 "$MEDIA/bs_ctrl.py" $CTRL "$@"; }
registered_by() { # APPLIANCE USER
	local ip
	eval "ip=\$IP_$2"
	grep -q "registrar: $2 registered from $ip:[0-9]* over tls" "$tmp/$1-sp.log"
}
for u in ann ben; do
	pr_wait_for 15 registered_by a $u || pr_fail "$u did not register through A: $(tail -5 "$tmp/$u.log")"
	[ "$(rcli HGET pr:reg:$u reg_id)" = 1 ] || pr_fail "$u's binding has no outbound reg-id: $(rcli HGETALL pr:reg:$u | paste -sd' ')"
	eval "PORT0_$u=$(rcli HGET pr:reg:$u src_port)"
done

# what reaches each device from X, captured on its bridge port
for n in ann ben; do
	eval "ip=\$IP_$n"
	ip netns exec hz-br dumpcap -q -P -i hzv$n -f "udp and src host $X and dst host $ip" \
		-w "$tmp/$n-rx.pcap" >/dev/null 2>"$tmp/cap-$n.err" &
	pr_on_exit "kill -9 $! 2>/dev/null"
	pr_wait_for 10 grep -q "Capturing on" "$tmp/cap-$n.err" || pr_fail "dumpcap on hzv$n did not start"
done
pr_wait_for 5 ctl callstat || pr_fail "ann's ctrl_tcp ($CTRL) does not answer"
ctl dial sip:ben@poprelay >/dev/null || pr_fail "ann's baresip refused 'dial'"
pr_wait_for 15 sh -c "[ \"\$(redis-cli -s '$tmp/redis.sock' SCARD pr:sessions)\" = 1 ]" ||
	pr_fail "ann's call to ben through A was not answered: $(tail -5 "$tmp/a-sp.log")"
sid=$(rcli SMEMBERS pr:sessions)
[ "$(rcli HGET "pr:session:$sid" a_relay_addr)" = $X ] && [ "$(rcli HGET "pr:session:$sid" b_relay_addr)" = $X ] &&
	[ "$(rcli HGET "pr:session:$sid" a_encrypted)" = 1 ] && [ "$(rcli HGET "pr:session:$sid" b_encrypted)" = 1 ] ||
	pr_fail "session $sid: not SRTP anchored on $X: $(rcli HMGET "pr:session:$sid" a_relay_addr b_relay_addr a_encrypted b_encrypted | paste -sd' ')"
dec() { ls "$tmp/$1"/dump-*-dec.wav 2>/dev/null | head -1; }
pr_wait_for 10 sh -c "[ -n \"\$(ls $tmp/ann/dump-*-dec.wav $tmp/ben/dump-*-dec.wav 2>/dev/null | wc -l | grep -x 2)\" ]" ||
	pr_fail "no decoded audio dumps: $(ls "$tmp/ann" "$tmp/ben")"
sleep 3
python3 "$MEDIA/tone.py" check "$(dec ann)" $HZ_ben $HZ_ann --min-s 1.5 --label "ann hears ben through A" >"$tmp/tone0.out" &&
	python3 "$MEDIA/tone.py" check "$(dec ben)" $HZ_ann $HZ_ben --min-s 1.5 --label "ben hears ann through A" >>"$tmp/tone0.out" ||
	pr_fail "the call through A: $(cat "$tmp/tone0.out")"
pr_log "ok: a  A MASTER of poprelay_a$([ "$KA_SIP" = yes ] && echo " and poprelay_sip") ($V on A), B BACKUP; ann and ben registered through A over TLS (outbound), ann -> ben anchored on $X (session $sid), each hears the other"

# every binding of ann and ben, at every look from now on
(
	while :; do
		echo "$(date +%s.%N) $(rcli EXISTS pr:reg:ann) $(rcli EXISTS pr:reg:ben)"
		sleep 0.2
	done
) >"$tmp/bindings.txt" 2>&1 &
WATCH=$!
pr_on_exit "kill $WATCH 2>/dev/null"

# the storm, through A for its first seconds
ip netns exec hz-c python3 "$PR_ROOT/tests/integration/ha/regstorm.py" $V 5061 "$tmp/ca.crt" $CLI \
	"$STORM_PW" $STORM_N $STORM_QUIET "$tmp/storm.stop" 60 >"$tmp/storm.out" 2>"$tmp/storm.err" &
STORM=$!
pr_on_exit "kill $STORM 2>/dev/null"
pr_wait_for 10 sh -c "[ \$(grep -o '\"ack\": \"user[0-9]*\"' '$tmp/storm.out' | sort -u | wc -l) = $STORM_N ]" ||
	pr_fail "the storm: not every device registered through A: $(grep -c '"ack"' "$tmp/storm.out") acks, $(tail -3 "$tmp/storm.out")"
sleep 1

# --- b: appliance A dies ----------------------------------------------------------------------
rx_grows 1 || pr_fail "TURN data not flowing through A before the kill"
for n in ann ben; do eval "DEC0_$n=$(stat -c %s "$(dec $n)")"; done
t_kill=$(date +%s.%N)
# the interfaces first: the box's kernel goes with it, no FIN nor reset reaches a device
ip -n hz-a link set hza0 down
ip -n hz-a link set hza1 down
kill -9 $pid_a $SP_a
ka_kill a
if [ "$KA_SIP" = yes ]; then
	ka_wait_state b poprelay_sip MASTER 5 || pr_fail "B's keepalived did not become MASTER of poprelay_sip: $(tail -5 "$tmp/ka/b.log")"
fi
ka_wait_state b poprelay_a MASTER 5 || pr_fail "B's keepalived did not become MASTER of poprelay_a: $(tail -5 "$tmp/ka/b.log")"
pr_wait_for 3 v_on b || pr_fail "$V not on B's interface after the kill"
pr_wait_for 3 sh -c "$TEL hz-b /poprelay/ha/status | grep -q '\"held\": 1'" ||
	{ tail -5 "$tmp/b.log" >&2; pr_fail "B's dataplane did not take X over"; }
pr_log "ok: b  A gone (interfaces down, kill -9 of its dataplane, slowpath, keepalived): B MASTER of poprelay_a and poprelay_sip, B's dataplane holds $X, $V on B ($(python3 -c "print('%.0f' % ((__import__('time').time() - $t_kill) * 1000))") ms after the kill, at most)"

# --- d: TURN through B ------------------------------------------------------------------------
rx_grows 3 || { tail -5 "$tmp/b.log" >&2; pr_fail "no TURN data through B after the failover"; }
[ "$(state sources)" = "['$X:3478']" ] || pr_fail "echoes came from $(state sources), expected only $X:3478"
touch "$tmp/c/refresh"
pr_wait_for 10 grep -q '"refresh"' "$tmp/c/out" || pr_fail "no Refresh answer"
grep -q '"refresh": true' "$tmp/c/out" || pr_fail "Refresh through B failed: $(grep refresh "$tmp/c/out")"
[ "$(rcli HGET pr:turn:alloc:$id relay_addr)" = $X ] || pr_fail "redis relay_addr $(rcli HGET pr:turn:alloc:$id relay_addr) after B's Refresh"
pr_log "ok: d  TURN data through B from $relayed (the same relayed address), a Refresh succeeded"

# a check of the checks: with B's dataplane gone too, c must fail
[ "${HZ_KILL_B:-no}" = yes ] && kill -9 $pid_b

# --- c: the call, after the gap ---------------------------------------------------------------
sleep_until() { python3 -c "import time; time.sleep(max(0, $1 - time.time()))"; }
sleep_until "$(echo "$t_kill + 6" | bc)"
$TEL hz-b /poprelay/media/stats >"$tmp/b-media.json" 2>&1 || true
$GAPS pcap "$t_kill" "$tmp/ann-rx.pcap" "$tmp/ben-rx.pcap" >"$tmp/media.gaps"
python3 - "$tmp/media.gaps" <<'PY' || pr_fail "media after the kill (above)"
import json, sys
for l in open(sys.argv[1]):
    g = json.loads(l)
    # 50 packets/s (20 ms G.711): some 4 s of media after a gap of up to 2 s
    if g["before"] < 100 or g["after"] < 150 or g["gap_ms"] is None or g["gap_ms"] >= 2000:
        print("FAIL: %s" % g, file=sys.stderr); sys.exit(1)
PY
tail_check() { # NAME EXPECTED_HZ OWN_HZ: what NAME decoded after the kill
	local n=$1 off
	eval "off=\$DEC0_$n"
	python3 - "$(dec $n)" "$off" "$tmp/$n-after.wav" <<'PY'
import sys, wave
src, off, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
b = open(src, "rb").read()
pcm = b[off - (off - 44) % 2:]
w = wave.open(dst, "wb"); w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
w.writeframes(pcm[:len(pcm) // 2 * 2]); w.close()
PY
	python3 "$MEDIA/tone.py" check "$tmp/$n-after.wav" $2 $3 --min-s 2 --label "$n hears the other after the kill"
}
tail_check ann $HZ_ben $HZ_ann >"$tmp/tone1.out" && tail_check ben $HZ_ann $HZ_ben >>"$tmp/tone1.out" ||
	pr_fail "the call after the failover: $(cat "$tmp/tone1.out")"
python3 - "$tmp/b-media.json" <<'PY' || pr_fail "B's dataplane does not relay the session: $(cat "$tmp/b-media.json")"
import json, sys
m = json.load(open(sys.argv[1]))["/poprelay/media/stats"]
sys.exit(0 if m["sessions"] >= 1 and m["relayed"] > 0 else 1)
PY
[ "$(rcli SISMEMBER pr:sessions "$sid")" = 1 ] || pr_fail "the session $sid ended"
pr_log "ok: c  the call after the gap, through B, with no re-INVITE: $(sed 's/^ok: //' "$tmp/tone1.out" | paste -sd';')"

# --- e: the storm -----------------------------------------------------------------------------
touch "$tmp/storm.stop"
wait $STORM || pr_fail "the storm's client failed: $(tail -3 "$tmp/storm.err")"
pr_wait_for 15 grep -q "peers: slowpath .* is gone" "$tmp/b-sp.log" ||
	pr_fail "B's slowpath did not take A's calls over: $(grep 'peers:' "$tmp/b-sp.log" | tail -3)"
sleep 1
# a check of the checks: with a binding lost, e must fail
[ "${HZ_LOSE:-no}" = yes ] && rcli DEL pr:reg:user0 >/dev/null
python3 - "$tmp/storm.out" "$t_kill" "$STORM_N" "$STORM_QUIET" "$tmp/redis.sock" <<'PY' || pr_fail "the storm (above)"
import json, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
t_kill, n, quiet, sock = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
acks = [r for r in rows if "ack" in r]
done = {r["done"]: r for r in rows if "done" in r}
bad = []
for i in range(n):
    u = "user%d" % i
    mine = [a for a in acks if a["ack"] == u]
    if i < quiet and (len(mine) != 1 or mine[0]["t"] > t_kill):
        bad.append("%s (quiet): acks %s, expected one before the kill" % (u, [a["t"] for a in mine]))
        continue
    if i >= quiet and (not any(a["t"] <= t_kill for a in mine) or not any(a["t"] > t_kill for a in mine)):
        bad.append("%s: acks before/after the kill %d/%d" % (u, sum(a["t"] <= t_kill for a in mine),
                                                            sum(a["t"] > t_kill for a in mine)))
        continue
    d = done.get(u)
    if not d or not d["last_ok"]:
        bad.append("%s did not end on an acknowledged REGISTER: %s" % (u, d))
        continue
    got = subprocess.run(["redis-cli", "-s", sock, "HGET", "pr:reg:" + u, "src_port"],
                         capture_output=True, text=True).stdout.strip()
    if got != str(d["last_port"]):
        bad.append("%s: binding's src_port %r, its last 200 acknowledged port %s" % (u, got, d["last_port"]))
errs = sum(1 for r in rows if "err" in r)
print(("ok: " if not bad else "FAIL: ") + "e  storm: %d devices (%d silent since their REGISTER through A), %d REGISTERs "
      "acknowledged (%d before the kill, %d after), %d lost flows or refusals; after B took A's calls over, "
      "every device's binding is the one its last 200 acknowledged" % (n, quiet, len(acks), sum(a["t"] <= t_kill for a in acks), sum(a["t"] > t_kill for a in acks), errs)
      + ("" if not bad else ": " + "; ".join(bad[:5])))
sys.exit(1 if bad else 0)
PY

# --- f: ann and ben back on new flows through B -----------------------------------------------
back() { # USER: registered again through B, on a new flow (another source port)
	local p0
	eval "p0=\$PORT0_$1"
	registered_by b $1 && [ "$(rcli HGET pr:reg:$1 src_port)" != "$p0" ]
}
for u in ann ben; do
	pr_wait_for 120 back $u ||
		{ tail -15 "$tmp/$u.log" >&2; pr_fail "$u did not register again through B within 120 s of the kill"; }
	pr_log "ok: f  $u registered again through B on a new flow $(python3 -c "import time; print('%.1f' % (time.time() - $t_kill))") s after the kill"
done
kill $WATCH 2>/dev/null
wait $WATCH 2>/dev/null || true
python3 - "$tmp/bindings.txt" "$t_kill" <<'PY' || pr_fail "a binding of ann or ben went missing"
import re, sys
# a look is a line that starts with its time (a failed redis-cli leaves a field out: missing)
rows = [l.split() for l in open(sys.argv[1]) if re.match(r"\d+\.\d+ ", l)]
t_kill = float(sys.argv[2])
missing = [r for r in rows if r[1:] != ["1", "1"]]
after = sum(1 for r in rows if float(r[0]) >= t_kill)
ok = not missing and after >= 50
print(("ok: " if ok else "FAIL: ") + "f  ann's and ben's bindings in Redis at each of %d looks (%d after the kill)" % (len(rows), after)
      + (" -- missing at %s" % missing[:3] if missing else ""))
sys.exit(0 if ok else 1)
PY

touch "$tmp/c/stop"
pr_wait_for 5 grep -q '"gaps"' "$tmp/c/out" || pr_fail "no summary from the TURN client"
$GAPS turn "$t_kill" "$tmp/c/out" >"$tmp/turn.gaps"
gaps=$(python3 - "$tmp/media.gaps" "$tmp/turn.gaps" <<'PY'
import json, sys
m = [json.loads(l)["gap_ms"] for l in open(sys.argv[1])]
t = [json.loads(l)["gap_ms"] for l in open(sys.argv[2])]
print("media %s ms (at ann, ben), TURN %s ms" % (" / ".join("%.0f" % x for x in m),
      " / ".join("none" if x is None else "%.0f" % x for x in t)))
sys.exit(0 if all(x is not None and x < 2000 for x in m + t) else 1)
PY
) || pr_fail "gaps over 2 s: $gaps"
pr_log "ok: gaps from the last packet relayed before the kill to the first after: $gaps"
kill -0 "$SP_b" 2>/dev/null && kill -0 "$pid_b" 2>/dev/null || pr_fail "B's slowpath or dataplane died"
echo PASS
