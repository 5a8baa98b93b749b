#!/usr/bin/env bash
# parallel: heavy
# Registrations through the loss of an appliance (issue 20; docs/scaling.md, "Appliances
# N+1", "The slowpath's service address"): two slowpaths A and B of one PoP (one Redis) with
# the same [sip] section: tls_listen on the PoP's SIP service address V = 192.0.2.10,
# freebind = yes, keepalive_s = 10 (the Flow-Timer). keepalived in each appliance's
# namespace runs the shipped instance for V (images/keepalived-poprelay-sip.conf: VRRPv3,
# advert_int 0.1, nopreempt; A's priority 150; its track script, systemctl there, is a
# check of the test's slowpath process here), so V is a kernel address that keepalived
# moves. Two baresip devices (alice .21 and bob .22, each in its own namespace on the same
# bridge) register over TLS with RFC 5626 outbound (+sip.instance, reg-id) to V. Signalling
# only: no dataplane runs (media_addr is V; the call's sessions are written to Redis and
# nobody relays them). Scenarios, each "ok: ...":
#   a  both slowpaths run, B on V before V is its host's (freebind; its log says so), A's
#      keepalived MASTER of poprelay_sip (V on A's interface), B's FAULT (fenced: its
#      `poprelayctl ha sip-may-serve` track script fails while A's slowpath, whose lease
#      lives, holds V: pr:ha:sip:V = sp-a) (each slowpath,
#      [sip] instance sp-a / sp-b, writes its counters to its own pr:stats:slowpath:pop1:sp-NAME
#      hash: its pid and instance); alice and bob
#      registered through A (A's log), with outbound; alice calls bob, who answers (the
#      call's dialog record held by A: in pr:slowpath:calls:<A's instance>); carol calls
#      dave (answermode manual: his phone rings, nobody answers): that call's setup record
#      is in pr:dialogs (answer 0), held by A too
#   b  kill -9 of A's slowpath and keepalived, A's interface down (the box is gone, and
#      its kernel with it: no FIN reaches the devices): once A's slowpath's lease (3 s) is
#      gone B's fence check passes, B's keepalived becomes MASTER and V
#      is on B's interface. B takes A's calls once A's lease (3 s) is gone (its log: 1
#      taken over, 1 ended): the ringing call is ended, CDR end_reason failover (carol ->
#      dave, unanswered), its dialog record and A's instance, lease and call set gone, its
#      relay ports back in the pool; the answered one is B's now. Each device notices its
#      dead flow (its CRLF ping is answered by B's kernel with a reset, or not at all) and
#      registers again, through B (B's log), on a new flow (another source port) within
#      its flow-recovery wait (libre: 30-60 s after the failure, RFC 5626 4.5); alice's
#      and bob's bindings present in Redis at every look (every 200 ms) from before the
#      kill to the end. The call answered on A is ended by a BYE from one of its devices
#      through B (bob's baresip hangs up by itself once its flow failed; else alice hangs
#      up): CDR bye-*, closed after the kill, no record left
#   c  alice calls bob through B (ctrl_tcp "dial"): bob's baresip answers, the call's
#      session is written (the 200 OK went through B), alice hangs up; its CDR bye-caller,
#      alice -> bob, answered, no dialog record left (three CDRs in all)
# Seen failing: a slowpath built before the setup records fails in a (no record of the
# ringing call in Redis: nothing another slowpath could end). HS_FREEBIND=no (no [sip]
# freebind; V added to A by hand so that A starts) fails in a: B cannot listen on V ("not
# an address of this host"). HS_KA_SIP=no (V added to A by hand, keepalived not run) fails
# in b: nothing moves V, the devices never get back.
# Exits 0 (pass), 77 (skip), 1 (fail).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
command -v baresip >/dev/null || pr_skip "baresip not installed"
command -v keepalived >/dev/null || pr_skip "keepalived not installed (make deps)"
[ -f /usr/lib/baresip/modules/ctrl_tcp.so ] || pr_skip "baresip's ctrl_tcp module not installed"
[ -x "$BUILD/poprelay-slowpath" ] || pr_fail "build $BUILD/poprelay-slowpath first"
pr_need_root
FREEBIND=${HS_FREEBIND:-yes}
KA_SIP=${HS_KA_SIP:-yes}

V=192.0.2.10
IP_a=192.0.2.1
IP_b=192.0.2.2
IP_alice=192.0.2.21
IP_bob=192.0.2.22
IP_carol=192.0.2.23
IP_dave=192.0.2.24
CTRL=127.0.0.1:4444 # alice's ctrl_tcp, on her namespace's loopback
NS=hs

pr_netns $NS-br
ip -n $NS-br link add ${NS}br type bridge || pr_fail "bridge"
ip -n $NS-br link set ${NS}br up
for n in a b alice bob carol dave; do
	pr_netns $NS-$n
	pr_veth $NS-$n ${NS}$n $NS-br ${NS}v$n
	ip -n $NS-br link set ${NS}v$n master ${NS}br
	eval "ip -n $NS-$n addr add \$IP_$n/24 dev ${NS}$n"
done

D=$(mktemp -d /tmp/ha-sip.XXXXXX)
pr_on_exit "rm -rf '$D'"
chmod 755 "$D" # keepalived's script security: the track script's directories root's alone
tmp=$D         # tests/integration/ha/keepalived.sh's ka_run and ka_kill keep their files in $tmp/ka
source "$PR_ROOT/tests/integration/ha/keepalived.sh"
pr_redis_start "$D"
R() { redis-cli -s "$D/redis.sock" "$@"; }
SP_ADDR=$V sp_certs "$D"
extra=("digest_algorithms = MD5" "keepalive_s = 10")
[ "$FREEBIND" = yes ] && extra+=("freebind = yes")
SP_ADDR=$V sp_config "$D" 5061 5060 "${extra[@]}"
sp_user_add "$D" alice "$SP_PW_alice"
sp_user_add "$D" bob "$SP_PW_bob"
SP_PW_dave=rw8-Pulsar-dave
sp_user_add "$D" carol "$SP_PW_carol"
sp_user_add "$D" dave "$SP_PW_dave"

sp_run() { # NAME: a slowpath in NS-NAME on the shared sp.conf, log NAME-sp.log, pid in NAME-sp.pid
	local n=$1 pid i
	# each appliance's own [sip] instance (both run on this one host, whose name would
	# otherwise name both stats hashes)
	sed "/^\[sip\]/a instance = sp-$n" "$D/sp.conf" >"$D/$n-sp.conf"
	ip netns exec $NS-$n "$BUILD/poprelay-slowpath" -c "$D/$n-sp.conf" -v >"$D/$n-sp.log" 2>&1 &
	pid=$!
	echo $pid >"$D/$n-sp.pid"
	eval "SP_$n=$pid"
	pr_on_exit "kill $pid 2>/dev/null"
	for i in $(seq 50); do
		grep -q "listening:" "$D/$n-sp.log" 2>/dev/null && return 0
		kill -0 $pid 2>/dev/null || pr_fail "slowpath $n exited at start: $(tail -3 "$D/$n-sp.log")"
		sleep 0.1
	done
	pr_fail "slowpath $n did not start: $(tail -3 "$D/$n-sp.log")"
}

# keepalived: the shipped instance, for A (priority 150) and B (100), with a global_defs as
# keepalived-poprelay.conf's; the track script checks the test's slowpath process instead of
# systemd's unit
mkdir -p "$D/ka"
chmod 755 "$D/ka"
install -m 0755 "$BUILD/poprelayctl" "$D/ka/poprelayctl"
cat >"$D/ka/sp-alive" <<'SH'
#!/bin/sh
# keepalived's track script here: the appliance's slowpath process runs
kill -0 "$(cat "$1")" 2>/dev/null
SH
chmod 755 "$D/ka/sp-alive"
ka_sip_conf() { # NAME PRIORITY
	printf 'global_defs {\n\trouter_id poprelay-%s\n\tvrrp_version 3\n\tscript_user root\n\tenable_script_security\n}\n' $1
	sed -e "s|interface eth0|interface ${NS}$1|" -e "s|priority 100|priority $2|" \
		-e "s|\"/usr/bin/systemctl is-active --quiet poprelay-slowpath.service\"|\"$D/ka/sp-alive $D/$1-sp.pid\"|" \
		-e "s|\"/usr/bin/poprelayctl |\"$D/ka/poprelayctl -c $D/$1-sp.conf |" \
		"$PR_ROOT/images/keepalived-poprelay-sip.conf"
}
v_on() { ip -n $NS-$1 -4 addr show dev ${NS}$1 | grep -q "inet $V/"; }

# --- a: both appliances, the devices registered through A ------------------------------------
if [ "$KA_SIP" = yes ]; then
	ka_sip_conf a 150 >"$D/ka/a.conf"
	ka_sip_conf b 100 >"$D/ka/b.conf"
	grep -q "sp-alive $D/a-sp.pid" "$D/ka/a.conf" || pr_fail "the track script was not substituted"
fi
[ "$FREEBIND" = yes ] && [ "$KA_SIP" = yes ] || ip -n $NS-a addr add $V/24 dev ${NS}a
sp_run a
sp_run b
if [ "$FREEBIND" = yes ]; then
	grep -q "listening on $V:5061/tcp before the address is this host's" "$D/b-sp.log" ||
		pr_fail "B's slowpath does not say it listens on $V before it is B's: $(grep listening "$D/b-sp.log")"
fi
echo "ok: slowpaths A and B listen on $V:5061 (B's log: $(grep -o "listening on $V:5061/tcp before[^:]*" "$D/b-sp.log"))"
# each slowpath's counters in a hash of its own (before, both wrote pr:stats:slowpath:pop1)
for n in a b; do
	k=pr:stats:slowpath:pop1:sp-$n
	id=$(grep -o 'slowpath instance [^ ]*' "$D/$n-sp.log" | head -1 | cut -d' ' -f3)
	pr_wait_for 3 sh -c "[ \"\$(redis-cli -s '$D/redis.sock' HGET $k pid)\" = $(eval echo \$SP_$n) ]" ||
		pr_fail "$k: pid '$(R HGET $k pid)', not slowpath $n's $(eval echo \$SP_$n)"
	[ -n "$id" ] && [ "$(R HGET $k instance)" = "$id" ] || pr_fail "$k: instance '$(R HGET $k instance)', not $n's '$id'"
done
[ "$(R EXISTS pr:stats:slowpath:pop1)" = 0 ] || pr_fail "the PoP-wide pr:stats:slowpath:pop1 was written"
echo "ok: each slowpath's counters in its own hash: pr:stats:slowpath:pop1:sp-a (pid $SP_a), :sp-b (pid $SP_b)"
if [ "$KA_SIP" = yes ]; then
	ka_run $NS-a a
	ka_run $NS-b b
	ka_wait_state a poprelay_sip MASTER 10 ||
		pr_fail "A's keepalived not MASTER of poprelay_sip: $(ka_state a poprelay_sip); $(tail -5 "$D/ka/a.log")"
	pr_wait_for 5 v_on a || pr_fail "$V not on A's interface"
	ka_wait_state b poprelay_sip FAULT 5 || pr_fail "B's poprelay_sip is $(ka_state b poprelay_sip), not FAULT (fenced)"
	[ "$(R GET pr:ha:sip:$V)" = sp-a ] || pr_fail "pr:ha:sip:$V is '$(R GET pr:ha:sip:$V)', not sp-a"
	v_on b && pr_fail "$V on B's interface too"
	echo "ok: keepalived: A MASTER of poprelay_sip ($V on ${NS}a, pr:ha:sip:$V = sp-a), B FAULT (fenced)"
fi

printf 'import wave,math,struct\nw=wave.open("%s","wb");w.setnchannels(1);w.setsampwidth(2);w.setframerate(8000)\nw.writeframes(b"".join(struct.pack("<h",int(8000*math.sin(i*0.3))) for i in range(8000*20)))\n' "$D/tone.wav" | python3
bs_conf() { # NAME PASSWORD ANSWERMODE [config lines...]
	local n=$1 pw=$2 am=$3 ip
	shift 3
	eval "ip=\$IP_$n"
	mkdir -p "$D/$n"
	{
		cat <<CFG
poll_method epoll
sip_listen $ip:5070
sip_cafile $D/ca.crt
sip_trans_def tls
net_interface $ip
audio_player aufile,$D/$n/rx.wav
audio_source aufile,$D/tone.wav
audio_alert aufile,/dev/null
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module srtp.so
module uuid.so
module_app account.so
module_app menu.so
CFG
		local l
		for l in "$@"; do echo "$l"; done
	} >"$D/$n/config"
	# outbound: +sip.instance and reg-id=1 in the Contact, CRLF keepalives at the Flow-Timer
	echo "<sip:$n@poprelay;transport=tls>;auth_pass=$pw;outbound=\"sip:$V:5061;transport=tls\";sipnat=outbound;mediaenc=srtp-mand;answermode=$am;regint=600" >"$D/$n/accounts"
}
bs_conf bob "$SP_PW_bob" auto
bs_conf alice "$SP_PW_alice" auto "module_app ctrl_tcp.so" "ctrl_tcp_listen $CTRL"
for n in bob alice; do
	ip netns exec $NS-$n baresip -f "$D/$n" -t 400 >"$D/$n.log" 2>&1 </dev/null &
	pid=$!
	eval "BS_$n=$pid"
	# -9: on SIGTERM baresip unregisters first and, its server gone, waited past the
	# test's end (run.sh found carol's still running)
	pr_on_exit "kill -9 $pid 2>/dev/null"
done
ctl() { ip netns exec $NS-alice python3 "$PR_ROOT/tests/integration/media/bs_ctrl.py" $CTRL "$@"; }
registered_by() { # NAME USER: NAME's log says USER registered from the device's address
	local ip
	eval "ip=\$IP_$2"
	grep -q "registrar: $2 registered from $ip:[0-9]* over tls" "$D/$1-sp.log"
}
for u in alice bob; do
	pr_wait_for 15 registered_by a $u || pr_fail "$u did not register through A: $(tail -5 "$D/$u.log")"
	[ "$(R HGET pr:reg:$u reg_id)" = 1 ] && [[ $(R HGET pr:reg:$u instance) == "<urn:uuid:"* ]] ||
		pr_fail "$u's binding has no outbound instance/reg-id: $(R HGETALL pr:reg:$u | paste -sd' ')"
	eval "PORT0_$u=$(R HGET pr:reg:$u src_port)"
done
registered_by b alice || registered_by b bob && pr_fail "a device registered through B already"
echo "ok: alice and bob registered through A over TLS with outbound (instance $(R HGET pr:reg:bob instance), reg-id 1)"

A_ID=$(sed -n 's/.*slowpath instance \([^ ]*\).*/\1/p' "$D/a-sp.log" | head -1)
[ -n "$A_ID" ] || pr_fail "A's log names no slowpath instance"

# an answered call through A: alice calls bob
pr_wait_for 5 ctl callstat || pr_fail "alice's ctrl_tcp ($CTRL) does not answer"
ctl dial sip:bob@poprelay >/dev/null || pr_fail "alice's baresip refused 'dial'"
pr_wait_for 15 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' SCARD pr:sessions)\" = 1 ]" ||
	pr_fail "alice's call to bob through A was not answered: $(tail -5 "$D/a-sp.log")"
CALL1=$(R HGET "pr:session:$(R SMEMBERS pr:sessions)" cdr_id)
[ "$(R HGET "pr:dialog:$CALL1" answer)" -gt 0 ] && [ "$(R SISMEMBER "pr:slowpath:calls:$A_ID" "$CALL1")" = 1 ] ||
	pr_fail "the answered call $CALL1: no answered dialog record held by A ($A_ID)"
echo "ok: alice -> bob answered through A: dialog pr:dialog:$CALL1, held by A ($A_ID)"

# a call being set up on A when it dies: carol calls dave, whose phone rings (no answer)
bs_conf dave "$SP_PW_dave" manual
bs_conf carol "$SP_PW_carol" auto
ip netns exec $NS-dave baresip -f "$D/dave" -t 400 >"$D/dave.log" 2>&1 </dev/null &
pr_on_exit "kill -9 $! 2>/dev/null"
pr_wait_for 15 registered_by a dave || pr_fail "dave did not register through A: $(tail -5 "$D/dave.log")"
free0=$(R SCARD pr:ports:free)
ip netns exec $NS-carol baresip -f "$D/carol" -t 400 -e "/dial sip:dave@poprelay" >"$D/carol.log" 2>&1 </dev/null &
pr_on_exit "kill -9 $! 2>/dev/null"
pr_wait_for 15 grep -qi "incoming call" "$D/dave.log" || pr_fail "dave's phone does not ring: $(tail -5 "$D/a-sp.log")"
SETUP=$(R ZRANGE pr:dialogs 0 -1 | grep -vx "$CALL1")
[ -n "$SETUP" ] && [ "$(R HGET "pr:dialog:$SETUP" answer)" = 0 ] ||
	pr_fail "the ringing call has no setup record in pr:dialogs ($(R ZRANGE pr:dialogs 0 -1))"
[ "$(R SISMEMBER "pr:slowpath:calls:$A_ID" "$SETUP")" = 1 ] ||
	pr_fail "the ringing call $SETUP is not in A's (${A_ID:-?}) pr:slowpath:calls"
echo "ok: carol -> dave ringing through A: setup record pr:dialog:$SETUP (answer 0), held by A ($A_ID), $((free0 - $(R SCARD pr:ports:free))) relay ports taken"

# every acknowledged binding, at every look from now on
(
	while :; do
		echo "$(date +%s.%N) $(R EXISTS pr:reg:alice) $(R EXISTS pr:reg:bob)"
		sleep 0.2
	done
) >"$D/bindings.txt" 2>&1 &
WATCH=$!
pr_on_exit "kill $WATCH 2>/dev/null"
sleep 1

# --- b: appliance A dies ---------------------------------------------------------------------
# the interface first: the box's kernel goes with it, so no FIN from the killed slowpath's
# sockets reaches the devices (they must find out by themselves)
T_KILL=$(date +%s.%N)
ip -n $NS-a link set ${NS}a down
[ "$KA_SIP" = yes ] && ka_kill a
kill -9 "$SP_a"
wait "$SP_a" 2>/dev/null
echo "ok: appliance A gone: its interface down, kill -9 of its slowpath$([ "$KA_SIP" = yes ] && echo " and keepalived")"
if [ "$KA_SIP" = yes ]; then
	ka_wait_state b poprelay_sip MASTER 8 ||
		pr_fail "B's keepalived did not become MASTER of poprelay_sip: $(ka_state b poprelay_sip)"
	pr_wait_for 3 v_on b || pr_fail "$V not on B's interface"
	echo "ok: B's keepalived MASTER of poprelay_sip, $V on ${NS}b ($(python3 -c "import time; print('%.0f' % ((time.time() - $T_KILL) * 1000))") ms after the kill, at most)"
fi
# the ringing call: B takes A's calls once A's lease is gone, and fails the one being set up
failed_over() { [ "$(R HGET "pr:cdr:$SETUP" end_reason)" = failover ]; }
pr_wait_for 10 failed_over ||
	pr_fail "the call being set up ($SETUP) was not failed by B: CDR '$(R HGETALL "pr:cdr:$SETUP" | paste -sd' ')'; $(grep -i 'peer\|failover' "$D/b-sp.log" | tail -3)"
[ "$(R EXISTS "pr:dialog:$SETUP")" = 0 ] && [ "$(R ZSCORE pr:dialogs "$SETUP")" = "" ] ||
	pr_fail "the failed call's dialog record is still there"
[ "$(R HGET "pr:cdr:$SETUP" answer)" = 0 ] && [ "$(R HGET "pr:cdr:$SETUP" caller_user)" = carol ] &&
	[ "$(R HGET "pr:cdr:$SETUP" callee_user)" = dave ] || pr_fail "CDR $SETUP: $(R HGETALL "pr:cdr:$SETUP" | paste -sd' ')"
[ "$(R SCARD pr:ports:free)" = "$free0" ] || pr_fail "the failed call's relay ports not returned ($(R SCARD pr:ports:free), $free0 before)"
[ "$(R EXISTS "pr:slowpath:calls:$A_ID")" = 0 ] && [ "$(R SISMEMBER pr:slowpath:instances "$A_ID")" = 0 ] ||
	pr_fail "A ($A_ID) still listed as a slowpath holding calls"
grep -q "peers: slowpath $A_ID is gone (its lease expired): 1 of its calls taken over, 1 ended" "$D/b-sp.log" ||
	pr_fail "B's log does not say it took A's 2 calls (1 restored, 1 ended): $(grep 'peers:' "$D/b-sp.log")"
[ "$(R SISMEMBER "pr:slowpath:calls:$(sed -n 's/.*slowpath instance \([^ ]*\).*/\1/p' "$D/b-sp.log" | head -1)" "$CALL1")" = 1 ] ||
	pr_fail "the answered call $CALL1 is not B's now"
echo "ok: B failed the call being set up $(python3 -c "import time; print('%.1f' % (time.time() - $T_KILL))") s after the kill: CDR failover, carol -> dave, unanswered; no dialog record left, relay ports returned (B's log: $(grep -o 'peers: slowpath [^ ]* is gone.*' "$D/b-sp.log" | head -1))"

back() { # USER: registered again through B, on a new flow (its source port: the two
	# slowpaths' connection ids may be alike, both counting from their start second)
	local p0
	eval "p0=\$PORT0_$1"
	registered_by b $1 && [ "$(R HGET pr:reg:$1 src_port)" != "$p0" ]
}
for u in alice bob; do
	pr_wait_for 120 back $u ||
		{ tail -15 "$D/$u.log" >&2; grep -i "$u\|regist" "$D/b-sp.log" | tail -10 >&2
		  pr_fail "$u did not register again through B within 120 s of the kill"; }
	echo "ok: $u registered again through B on a new flow $(python3 -c "import time; print('%.1f' % (time.time() - $T_KILL))") s after the kill (from $(R HGET pr:reg:$u src_addr):$(R HGET pr:reg:$u src_port), was port $(eval echo \$PORT0_$u))"
done

# the call answered on A, taken over by B: a BYE from either device, on its new flow, ends
# it through B (baresip's callee may hang up by itself once its flow failed; else alice
# hangs up now)
CDR1() { R HGET "pr:cdr:$CALL1" "$1"; }
if [ -z "$(CDR1 end_reason)" ]; then
	ctl hangup >/dev/null || pr_fail "alice's baresip refused 'hangup' of the call answered on A"
fi
pr_wait_for 10 bash -c "[[ \"\$(redis-cli -s '$D/redis.sock' HGET pr:cdr:$CALL1 end_reason)\" == bye-* ]]" ||
	pr_fail "the call answered on A did not end by a BYE through B: CDR '$(R HGETALL "pr:cdr:$CALL1" | paste -sd' ')'"
grep -q "call $CALL1 ended: bye-" "$D/b-sp.log" || pr_fail "B's log does not say it ended $CALL1"
[ "$(R EXISTS "pr:dialog:$CALL1")" = 0 ] && [ "$(R SCARD pr:sessions)" = 0 ] ||
	pr_fail "the call answered on A left its dialog record or session"
[ "$(CDR1 caller_user)" = alice ] && [ "$(CDR1 callee_user)" = bob ] && [ "$(CDR1 sip_status)" = 200 ] &&
	[ "$(CDR1 end)" -gt "${T_KILL%.*}" ] || pr_fail "CDR $CALL1: $(R HGETALL "pr:cdr:$CALL1" | paste -sd' ')"
echo "ok: the call answered on A, taken over by B, ended by a BYE through B: CDR $CALL1 $(CDR1 end_reason), alice -> bob, $(CDR1 duration_s) s ($(($(CDR1 end) - ${T_KILL%.*})) s after the kill), no record left"

# --- c: a call through B ----------------------------------------------------------------------
pr_wait_for 5 ctl callstat || pr_fail "alice's ctrl_tcp ($CTRL) does not answer"
free0=$(R SCARD pr:ports:free)
ctl dial sip:bob@poprelay >/dev/null || pr_fail "alice's baresip refused 'dial'"
pr_wait_for 15 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' SCARD pr:sessions)\" = 1 ]" ||
	pr_fail "no session: the call through B was not answered: $(tail -5 "$D/b-sp.log")"
sid=$(R SMEMBERS pr:sessions)
cdr=$(R HGET "pr:session:$sid" cdr_id)
pr_wait_for 5 grep -qi "call established" "$D/alice.log" || pr_fail "alice's call not established"
echo "ok: alice called bob through B: 200 OK (session $sid written, alice's baresip: call established)"
sleep 1
ctl hangup >/dev/null || pr_fail "alice's baresip refused 'hangup'"
pr_wait_for 10 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' SCARD pr:sessions)\" = 0 ]" || pr_fail "the session did not end"
pr_wait_for 5 bash -c "[ -n \"\$(redis-cli -s '$D/redis.sock' HGET pr:cdr:$cdr end_reason)\" ]" || pr_fail "no CDR $cdr"
C() { R HGET "pr:cdr:$cdr" "$1"; }
[ "$(C end_reason)" = bye-caller ] && [ "$(C caller_user)" = alice ] && [ "$(C callee_user)" = bob ] &&
	[ "$(C sip_status)" = 200 ] && [ "$(C answer)" -gt 0 ] ||
	pr_fail "CDR $cdr: $(R HGETALL "pr:cdr:$cdr" | paste -sd' ')"
[ "$(R ZCARD pr:dialogs)" = 0 ] || pr_fail "dialog records left: $(R ZRANGE pr:dialogs 0 -1)"
[ "$(R ZCARD pr:cdrs)" = 3 ] || pr_fail "$(R ZCARD pr:cdrs) CDRs, not 3 (the two calls A held, this one)"
pr_wait_for 5 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' SCARD pr:ports:free)\" = $free0 ]" || pr_fail "relay ports not returned"
echo "ok: hung up: CDR $cdr bye-caller, alice -> bob, status 200, no dialog record left, relay ports returned"

kill "$WATCH" 2>/dev/null
wait "$WATCH" 2>/dev/null
python3 - "$D/bindings.txt" "$T_KILL" <<'PY' || pr_fail "a binding went missing"
import sys
rows = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 3]
t_kill = float(sys.argv[2])
missing = [r for r in rows if r[1:] != ["1", "1"]]
after = sum(1 for r in rows if float(r[0]) >= t_kill)
ok = not missing and after >= 50
print(("ok: " if ok else "FAIL: ") + "alice's and bob's bindings in Redis at each of %d looks (%d after the kill)" % (len(rows), after)
      + (" -- missing at %s" % missing[:3] if missing else ""))
sys.exit(0 if ok else 1)
PY
kill -0 "$SP_b" 2>/dev/null || pr_fail "slowpath B died"
echo "PASS"
