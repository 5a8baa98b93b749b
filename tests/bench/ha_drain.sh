#!/usr/bin/env bash
# Hitless planned maintenance (issue 20, docs/scaling.md "Drain handover"): packets lost on
# the moved calls and allocations during `poprelayctl drain --handover`. The world of
# tests/integration/ha_drain.sh (haenv.sh: two dataplanes on net_af_packet ports of one
# bridge, one Redis, [ha] peers of each other; lease_ms 3000, handover_quiet_ms 1000), with
# the devices' ARP caches moving late (he_late_caches: no gratuitous ARP for X reaches them;
# each moves 4-6 s after the addresses did, sending to the old server meanwhile).
# Each of HA_DRAIN_RUNS drains (default 5): a new SRTP session on A's X between two mpeer
# devices (100 packets/s each way, SRTCP every 25) and the TURN client's ChannelData
# (ha_turn.py, allocated once on X, 50/s, echoed by turnutils_peer) run for 3 s through A;
# `poprelayctl drain --handover` on A; the traffic runs on through B to its end (14 s in
# all); lost = RTP packets sent and not received, both ways (by sequence, at the devices)
# + ChannelData sent and not echoed (by number). Then `poprelayctl undrain` on A under the
# same kind of traffic (its losses go in the note), and the next drain.
# The figure is the median of the drains' losses; the baseline is the same drains with
# [ha] handover_max_ms = 0 (the old server lets go as soon as the peer holds: nothing
# forwarded), HA_DRAIN_BASE_RUNS of them (default 5), the dataplanes restarted for it.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/ha/haenv.sh"
RUNS=${HA_DRAIN_RUNS:-5}
BASE_RUNS=${HA_DRAIN_BASE_RUNS:-5}
command -v turnutils_peer >/dev/null || pr_skip "coturn's turnutils_peer not installed"
command -v ebtables >/dev/null || pr_skip "ebtables not installed"
he_init hb hb-a hb-b
HE_GATEWAY4=$CLI
HE_READY=/poprelay/media/stats
HE_READY_S=30
MPEER=$BUILD/tests/integration/media/mpeer
[ -x "$MPEER" ] || pr_skip "$MPEER not built (make build)"
PW='Ha-drain-bench-5521'
IPA=198.51.100.21
IPB=198.51.100.22
S80=AES_CM_128_HMAC_SHA1_80
ms_redis() { rcli "$@"; }
. "$PR_ROOT/tests/integration/media/sessions.sh"
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m() { printf '%s\n' "$@" | median; }

he_topology $CLI/24 $PEER/32 $IPA/24 $IPB/24
he_late_caches

# confs MAX_MS: both dataplanes' configurations with that handover_max_ms
confs() {
	he_drain_conf a $X $Y 50000 51000 $1 >"$tmp/a.conf"
	he_drain_conf b $Y $X 51000 50000 $1 >"$tmp/b.conf"
}
# the baseline's: both stopped (planned: their leases go) and started again with MAX_MS;
# A restores the allocation and its sessions from Redis, the client waits paused
restart_pair() {
	kill $pid_a $pid_b
	wait $pid_a $pid_b 2>/dev/null
	confs $1
	he_start_dp a
	he_start_dp b
	sleep 2
}
tstate() { python3 -c "import json; d=json.load(open('$tmp/c/state.json')); print(d['sent'], d['seen'])"; }

n=0
# moved K WHAT CMD...: a new session on X, traffic for 14 s with CMD run 3 s in; LOST: the
# packets lost (RTP both ways + TURN); the detail on stderr
moved() {
	local k=$1 what=$2 ka kb kc kd t0 t1 s0 e0 s1 e1 pa pb
	shift 2
	n=$((n + 1))
	ka=$(ms_key $S80) kb=$(ms_key $S80) kc=$(ms_key $S80) kd=$(ms_key $S80)
	MS_RELAY=$X ms_store install s$n "peer=$IPA:$((41000 + 4 * n)) relay=$((31000 + 4 * n)) suite=$S80 rx=$ka tx=$kb" \
		"peer=$IPB:$((41002 + 4 * n)) relay=$((31002 + 4 * n)) suite=$S80 rx=$kc tx=$kd" >/dev/null ||
		pr_fail "session s$n refused by redis"
	sleep 1
	read -r s0 e0 < <(tstate)
	rm -f "$tmp/c/pause"
	ip netns exec $HE_NS-c "$MPEER" --bind $IPA:$((41000 + 4 * n)) --to $X:$((31000 + 4 * n)) --suite $S80 \
		--tx-key "$ka" --rx-key "$kb" --id A --expect-id B --ssrc 0x0a000001 --seq 1000 --count 1400 \
		--rate 100 --rtcp-every 25 --start-delay-ms 300 --linger-ms 1500 >"$tmp/a$n.json" 2>"$tmp/a$n.err" &
	pa=$!
	ip netns exec $HE_NS-c "$MPEER" --bind $IPB:$((41002 + 4 * n)) --to $X:$((31002 + 4 * n)) --suite $S80 \
		--tx-key "$kc" --rx-key "$kd" --id B --expect-id A --ssrc 0x0b000001 --seq 2000 --count 1400 \
		--rate 100 --rtcp-every 25 --start-delay-ms 300 --linger-ms 1500 >"$tmp/b$n.json" 2>"$tmp/b$n.err" &
	pb=$!
	sleep 3
	t0=$(date +%s.%N)
	"$@" >"$tmp/cmd$n.out" 2>&1 || pr_fail "$what $k: $* failed: $(cat "$tmp/cmd$n.out")"
	t1=$(date +%s.%N)
	wait $pa $pb
	touch "$tmp/c/pause"
	sleep 1.5
	read -r s1 e1 < <(tstate)
	LOST=$(python3 - "$tmp/a$n.json" "$tmp/b$n.json" $((s1 - s0)) $((e1 - e0)) "$what $k" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
ts, te = int(sys.argv[3]), int(sys.argv[4])
lost = 0
for rx, tx, ssrc in ((a, b, "0x0b000001"), (b, a, "0x0a000001")):
    lost += tx["tx_ssrcs"][ssrc]["sent"] - rx["rx_ssrcs"].get(ssrc, {}).get("received", 0)
    bad = rx["auth_fail"] + rx["replay"] + rx["srtp_other"]
    if bad:
        print("%s: a device refused %d packets (auth_fail/replay)" % (sys.argv[5], bad), file=sys.stderr)
print("%s: RTP lost %d of %d, TURN lost %d of %d, the command took %s s" % (
    sys.argv[5], lost, a["sent"] + b["sent"], ts - te, ts, sys.argv[6]), file=sys.stderr)
print(lost + ts - te)
PY
) || pr_fail "$what $k: the devices' figures"
}

# the figure: drains with forwarding (as shipped, handover_max_ms 60000: the test world's
# late caches need about 6 s)
confs 60000
printf '%s\n' "$PW" | "$CTL" -c "$tmp/a.conf" user add alice >/dev/null || pr_fail "user add"
he_start_dp a
he_start_dp b
he_turn_client "$PW"
touch "$tmp/c/pause"
drain_lost=() undrain_lost=() fwd=()
for ((k = 1; k <= RUNS; k++)); do
	moved $k drain "$CTL" -c "$tmp/a.conf" drain --handover
	drain_lost+=("$LOST")
	fwd+=("$(hstat a forwarded_frames)")
	grep -q "handed over" "$tmp/cmd$n.out" || pr_fail "drain $k said: $(cat "$tmp/cmd$n.out")"
	moved $k undrain "$CTL" -c "$tmp/a.conf" undrain
	undrain_lost+=("$LOST")
	pr_wait_for 15 sh -c "[ -z \"\$($TEL ${HE_DPDK[b]} /poprelay/ha/status | grep -o '\"forwarding\": \"peer\"')\" ]" ||
		pr_fail "B still forwards to A 15 s after undrain $k"
done

# the baseline: nothing forwarded
restart_pair 0
base_lost=()
for ((k = 1; k <= BASE_RUNS; k++)); do
	moved $k "naive drain" "$CTL" -c "$tmp/a.conf" drain --handover
	base_lost+=("$LOST")
	"$CTL" -c "$tmp/a.conf" undrain >"$tmp/naive-undrain.out" 2>&1 || pr_fail "naive undrain $k: $(cat "$tmp/naive-undrain.out")"
	sleep 8 # the devices' entries move back to A
done
touch "$tmp/c/stop"

printf '{"name":"ha_drain_packets_lost","value":%s,"unit":"packets lost per drain on the moved call and allocation (RTP both ways at 100/s + TURN ChannelData at 50/s, by sequence)","baseline":"the same drain with [ha] handover_max_ms = 0 (the old server lets go as soon as the peer holds: nothing forwarded), same run","baseline_value":%s,"note":"%s drains (poprelayctl drain --handover) with the devices ARP caches moving late (no gratuitous ARP reaches them: each moves 4-6 s after the address); lost per drain: %s; frames the drained dataplane forwarded to its peer: %s; lost at the undrain after each (hitless failback): %s; baseline per drain: %s"}\n' \
	"$(m "${drain_lost[@]}")" "$(m "${base_lost[@]}")" "$RUNS" "${drain_lost[*]}" "${fwd[*]}" "${undrain_lost[*]}" "${base_lost[*]}"
