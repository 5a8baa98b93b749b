#!/usr/bin/env bash
# parallel:
# Split brain of the slowpath's SIP service address (issue 20; docs/scaling.md, "Split brain
# and failback"): two appliances A and B (namespaces hq-a, hq-b on one bridge), one Redis
# both see, a slowpath in each with the same [sip] section on V = 192.0.2.10 (freebind; [sip]
# instance sp-a / sp-b), keepalived in each running the shipped SIP instance
# (images/keepalived-poprelay-sip.conf: nopreempt, A's priority 150; its track scripts: the
# test's slowpath process for systemd's unit, and `poprelayctl ha sip-may-serve V` with the
# appliance's configuration). No devices: the address only. Scenarios, each "ok: ...":
#   a  A MASTER of poprelay_sip, V on A's interface only, the holder record
#      pr:ha:sip:V = sp-a; B not MASTER (FAULT: fenced)
#   b  the VRRP path cut (the bridge drops IP protocol 112; Redis untouched), 6 s: V on A's
#      interface and not on B's at every look (a look every 100 ms plus its own time), B's
#      keepalived never MASTER
#   c  the path restored, 2 s: the same
#   d  A dies (kill -9 of its keepalived and slowpath, its interface down): B MASTER and V
#      on B's interface once A's slowpath's lease (3 s) is gone, pr:ha:sip:V = sp-b
# Seen failing: HQ_SIP_CONF=<the SIP instance before its fence> fails in b (B MASTER, V on
# both appliances).
# Exits 0 (pass), 77 (skip), 1 (fail).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
command -v keepalived >/dev/null || pr_skip "keepalived not installed (make deps)"
command -v ebtables >/dev/null || pr_skip "ebtables not installed"
[ -x "$BUILD/poprelay-slowpath" ] || pr_fail "build $BUILD/poprelay-slowpath first"
[ -x "$BUILD/poprelayctl" ] || pr_fail "build $BUILD/poprelayctl first"
pr_need_root
SIP_CONF=${HQ_SIP_CONF:-$PR_ROOT/images/keepalived-poprelay-sip.conf}

V=192.0.2.10
NS=hq
pr_netns $NS-br
ip -n $NS-br link add ${NS}br type bridge || pr_fail "bridge"
ip -n $NS-br link set ${NS}br up
i=1
for n in a b; do
	pr_netns $NS-$n
	pr_veth $NS-$n ${NS}$n $NS-br ${NS}v$n
	ip -n $NS-br link set ${NS}v$n master ${NS}br
	ip -n $NS-$n addr add 192.0.2.$i/24 dev ${NS}$n
	i=$((i + 1))
done

D=$(mktemp -d /tmp/ha-split-sip.XXXXXX)
pr_on_exit "rm -rf '$D'"
chmod 755 "$D" # keepalived's script security: the track scripts' directories root's alone
tmp=$D         # tests/integration/ha/keepalived.sh's ka_run and ka_kill keep their files in $tmp/ka
source "$PR_ROOT/tests/integration/ha/keepalived.sh"
pr_redis_start "$D"
R() { redis-cli -s "$D/redis.sock" "$@"; }
SP_ADDR=$V sp_certs "$D"
SP_ADDR=$V sp_config "$D" 5061 5060 "freebind = yes"

mkdir -p "$D/ka"
chmod 755 "$D/ka"
install -m 0755 "$BUILD/poprelayctl" "$D/ka/poprelayctl"
cat >"$D/ka/sp-alive" <<'SH'
#!/bin/sh
kill -0 "$(cat "$1")" 2>/dev/null
SH
chmod 755 "$D/ka/sp-alive"
for n in a b; do
	sed "/^\[sip\]/a instance = sp-$n" "$D/sp.conf" >"$D/$n-sp.conf"
	{
		printf 'global_defs {\n\trouter_id poprelay-%s\n\tvrrp_version 3\n\tscript_user root\n\tenable_script_security\n}\n' $n
		sed -e "s|interface eth0|interface ${NS}$n|" -e "s|priority 100|priority $([ $n = a ] && echo 150 || echo 100)|" \
			-e "s|\"/usr/bin/systemctl is-active --quiet poprelay-slowpath.service\"|\"$D/ka/sp-alive $D/$n-sp.pid\"|" \
			-e "s|\"/usr/bin/poprelayctl |\"$D/ka/poprelayctl -c $D/$n-sp.conf |" "$SIP_CONF"
	} >"$D/ka/$n.conf"
	grep -q "sp-alive $D/$n-sp.pid" "$D/ka/$n.conf" || pr_fail "the slowpath track script was not substituted"
	grep -q /usr/bin/poprelayctl "$D/ka/$n.conf" && pr_fail "poprelayctl's path was not substituted"
done

sp_run() { # NAME: a slowpath in NS-NAME, log NAME-sp.log, pid in NAME-sp.pid (and SP_NAME)
	local n=$1 pid
	ip netns exec $NS-$n "$BUILD/poprelay-slowpath" -c "$D/$n-sp.conf" -v >"$D/$n-sp.log" 2>&1 &
	pid=$!
	echo $pid >"$D/$n-sp.pid"
	eval "SP_$n=$pid"
	pr_on_exit "kill -9 $pid 2>/dev/null"
	pr_wait_for 5 grep -q "listening:" "$D/$n-sp.log" || pr_fail "slowpath $n did not start: $(tail -3 "$D/$n-sp.log")"
}
v_on() { ip -n $NS-$1 -4 addr show dev ${NS}$1 | grep -q "inet $V/"; }
masters() { grep -c "(poprelay_sip) Entering MASTER STATE" "$D/ka/$1.log"; }

# --- a: A holds V ------------------------------------------------------------------------------
sp_run a
sp_run b
ka_run $NS-a a
ka_wait_state a poprelay_sip MASTER 10 || pr_fail "A not MASTER of poprelay_sip: $(tail -5 "$D/ka/a.log")"
ka_run $NS-b b
pr_wait_for 5 v_on a || pr_fail "$V not on A's interface"
pr_wait_for 5 sh -c "[ \"\$(redis-cli -s '$D/redis.sock' GET pr:ha:sip:$V)\" = sp-a ] || [ -n '${HQ_SIP_CONF:-}' ]" ||
	pr_fail "pr:ha:sip:$V is '$(R GET pr:ha:sip:$V)', not sp-a"
sleep 3 # B's keepalived settles (its scripts' first runs, init_fail)
[ "$(ka_state b poprelay_sip)" = MASTER ] && pr_fail "B MASTER of poprelay_sip with A's adverts seen"
v_on b && pr_fail "$V on B's interface too"
pr_log "ok: a  A MASTER of poprelay_sip, $V on A only, pr:ha:sip:$V = $(R GET pr:ha:sip:$V), B $(ka_state b poprelay_sip)"

# --- b, c: the VRRP path cut, then restored ------------------------------------------------------
watch_v() { # SECONDS WHAT: V on A and not on B at every look; B never MASTER again
	local end=$((SECONDS + $1)) looks=0 m0
	m0=$(masters b)
	while [ $SECONDS -lt $end ]; do
		v_on a || pr_fail "$2: $V gone from A ($(ka_state a poprelay_sip)); $(ip netns exec $NS-a "$D/ka/poprelayctl" -c "$D/a-sp.conf" ha sip-may-serve $V)"
		v_on b && pr_fail "$2: $V on both appliances (B $(ka_state b poprelay_sip), $(masters b) MASTER transitions): split brain"
		looks=$((looks + 1))
		sleep 0.1
	done
	[ "$(masters b)" = "$m0" ] || pr_fail "$2: B's keepalived became MASTER of poprelay_sip"
	echo $looks
}
ip netns exec $NS-br ebtables -A FORWARD -p IPv4 --ip-proto 112 -j DROP || pr_fail "ebtables"
pr_on_exit "ip netns exec $NS-br ebtables -F FORWARD 2>/dev/null"
n=$(watch_v 6 b) || exit 1
pr_log "ok: b  VRRP cut 6 s: $V on A and not on B at all $n looks, B $(ka_state b poprelay_sip) ($(ip netns exec $NS-b "$D/ka/poprelayctl" -c "$D/b-sp.conf" ha sip-may-serve $V))"
ip netns exec $NS-br ebtables -F FORWARD
n=$(watch_v 2 c) || exit 1
pr_log "ok: c  VRRP restored: $V on A only ($n looks), A $(ka_state a poprelay_sip), B $(ka_state b poprelay_sip)"

# --- d: A dies: B takes V once A's slowpath's lease is gone ---------------------------------------
disown -a # no "Killed" lines from the shell
t0=$(date +%s%N)
ka_kill a
kill -9 $SP_a
ip -n $NS-a link set ${NS}a down
pr_wait_for 8 v_on b || pr_fail "$V not on B 8 s after A died: B $(ka_state b poprelay_sip); $(tail -5 "$D/ka/b.log")"
ms=$((($(date +%s%N) - t0) / 1000000))
ka_wait_state b poprelay_sip MASTER 1 || pr_fail "B not MASTER of poprelay_sip"
pr_wait_for 3 sh -c "[ \"\$(redis-cli -s '$D/redis.sock' GET pr:ha:sip:$V)\" = sp-b ]" ||
	pr_fail "pr:ha:sip:$V is '$(R GET pr:ha:sip:$V)', not sp-b"
pr_log "ok: d  A dead: $V on B ${ms} ms after the kill (A's slowpath's lease: 3 s), pr:ha:sip:$V = sp-b"
exit 0
