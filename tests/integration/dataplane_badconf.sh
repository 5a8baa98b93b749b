#!/usr/bin/env bash
# Every refusal of the start has a case here: the file is refused by --check-config AND by
# the start itself (exit 1 both times), each message naming the file, the section and the
# key; a good file passes --check-config. The start refuses all of them before EAL (the
# same code as --check-config), so no namespaces, no EAL start, no root needed.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DP=$BUILD/poprelay-dataplane
[ -x "$DP" ] || pr_fail "$DP not built"
tmp=$(pr_tmpdir)

good='[eal]
lcores = 0-1
huge = no
file_prefix = dp-badconf
[port0]
device = net_null0
ipv4 = 198.51.100.10/24'

# run_dp NAME MODE [ARGS...]: the dataplane on $tmp/NAME.conf; exit status in $rc.
run_dp() {
	local name=$1 mode=$2
	shift 2
	rc=0
	timeout 30 "$DP" -c "$tmp/$name.conf" "$@" >"$tmp/$name.$mode.out" 2>&1 || rc=$?
}

# refuse NAME EXPECTED_WORDS... < config: --check-config and the start both refuse it.
refuse() {
	local name=$1 w mode
	shift
	cat >"$tmp/$name.conf"
	for mode in check start; do
		if [ $mode = check ]; then run_dp "$name" $mode --check-config; else run_dp "$name" $mode; fi
		local out=$tmp/$name.$mode.out
		[ $rc -eq 1 ] || { cat "$out"; pr_fail "$name ($mode): exit $rc, expected 1"; }
		grep -q "$tmp/$name.conf" "$out" || pr_fail "$name ($mode): message does not name the file: $(cat "$out")"
		for w in "$@"; do
			grep -qF -- "$w" "$out" || pr_fail "$name ($mode): message lacks '$w': $(cat "$out")"
		done
	done
	pr_log "ok: $name: $(grep -o 'refusing.*' "$tmp/$name.check.out")"
}

# accept NAME < config: --check-config passes (the checks are no stricter than the start).
accept() {
	local name=$1
	cat >"$tmp/$name.conf"
	run_dp "$name" check --check-config
	[ $rc -eq 0 ] || { cat "$tmp/$name.check.out"; pr_fail "$name: --check-config refused a good file"; }
}

printf '%s\n' "$good" >"$tmp/good.conf"
"$DP" -c "$tmp/good.conf" --check-config >/dev/null || pr_fail "good config refused"
"$DP" -c images/poprelay.conf --check-config >/dev/null 2>&1 ||
	(cd "$PR_ROOT" && "$DP" -c images/poprelay.conf --check-config) || pr_fail "images/poprelay.conf refused"

printf '%s\nbrust_size = 32\n' "$good" | refuse unknown_key "[port0]" brust_size "unknown key"
printf '%s\n[dataplane]\nburst_size = 4096\n' "$good" | refuse bad_value "[dataplane]" burst_size "from 1 to 256"
printf '%s\n[dataplne]\nburst_size = 32\n' "$good" | refuse unknown_section "[dataplne]" "unknown section"
# Redis under Sentinel (the [redis] keys every process reads): each bad value names its key
printf '%s\n[redis]\nsentinels = 127.0.0.1:26379, nohost\nmaster_name = poprelay\n' "$good" |
	refuse sentinels_bad "[redis] sentinels" "'nohost' is not host:port"
printf '%s\n[redis]\nmaster_name = poprelay\n' "$good" | refuse sentinels_missing "[redis] sentinels" "required with master_name"
printf '%s\n[redis]\nsentinels = 127.0.0.1:26379\n' "$good" | refuse master_name_missing "[redis] master_name" "required with sentinels"
printf '%s\n[redis]\nwait_replicas = 17\n' "$good" | refuse wait_replicas_range "[redis]" wait_replicas
printf '%s\n[redis]\nsentinels = 127.0.0.1:26379, [::1]:26380\nmaster_name = poprelay\nwait_replicas = 1\n' "$good" |
	accept sentinels_ok
printf '[eal]\nhuge = sometimes\n[port0]\ndevice = net_null0\nipv4 = 198.51.100.10/24\n' | refuse bad_bool "[eal]" huge "yes or no"
printf '[port0]\nipv4 = 198.51.100.10/24\n' | refuse missing_device "[port0]" device missing
printf '[port0]\ndevice = net_null0\nipv4 = 198.51.100.10\n' | refuse bad_prefix "[port0]" ipv4 "prefix length"
printf '[eal]\nhuge = yes\nhuge_unlink = no\n[port0]\ndevice = ring:bad/name\nipv4 = 198.51.100.10/24\n' |
	refuse bad_ring_name "[port0]" device "ring:bad/name" "letters, digits"
printf '[eal]\nhuge = no\n[port0]\ndevice = ring:gen0\nipv4 = 198.51.100.10/24\n' |
	refuse ring_without_shared_memory "[port0]" device "huge = yes" "huge_unlink = no"
# [eal]: what EAL would refuse, and the workers the rest counts on.
printf '[eal]\nlcores = 0\n[port0]\ndevice = net_null0\nipv4 = 198.51.100.10/24\n' |
	refuse one_lcore "[eal] lcores" "at least two lcores"
printf '[eal]\nlcores = 0-1\nmain_lcore = 5\n[port0]\ndevice = net_null0\nipv4 = 198.51.100.10/24\n' |
	refuse main_lcore_outside "[eal] main_lcore" "got 5"
printf '[eal]\nlcores = 0-one\n[port0]\ndevice = net_null0\nipv4 = 198.51.100.10/24\n' |
	refuse lcores_syntax "[eal] lcores" '"0-one"' "expected a list"
printf '[eal]\nlcores = 0@0,1@1000\n[port0]\ndevice = net_null0\nipv4 = 198.51.100.10/24\n' |
	refuse lcores_absent_cpu "[eal] lcores" "CPU 1000"
printf '%s\nextra_args = %s\n' "$(printf '%s\n' "$good" | sed -n '1,4p')" "$(printf -- '-v %.0s' $(seq 70))" |
	{ cat; printf '[port0]\ndevice = net_null0\nipv4 = 198.51.100.10/24\n'; } |
	refuse too_many_eal_args "[eal] extra_args" "EAL arguments"
# [dataplane]
printf '%s\n[dataplane]\npunt_ring_size = 1000\n' "$good" | refuse punt_ring "[dataplane] punt_ring_size" "power of two"
printf '[eal]\nhuge = no\nmemory_mb = 64\n[dataplane]\nmbuf_pool_size = 65535\n[port0]\ndevice = net_null0\nipv4 = 198.51.100.10/24\n' |
	refuse pool_beyond_memory "[dataplane] mbuf_pool_size" "[eal] memory_mb = 64"
# [portN]: the device's queues. The tester's case: one worker needs 1 RX and 2 TX queues.
printf '[eal]\nlcores = 0-1\nhuge = no\n[port0]\ndevice = net_af_packet0,iface=lo,qpairs=1\nipv4 = 198.51.100.10/24\n' |
	refuse af_packet_qpairs "[port0] device" "qpairs=1" "1 RX and 2 TX queues" "qpairs=2 or more"
printf '[eal]\nlcores = 0-2\nhuge = no\n[port0]\ndevice = net_af_packet0,iface=lo\nipv4 = 198.51.100.10/24\n' |
	refuse af_packet_default_qpairs "[port0] device" "qpairs=3 or more"
printf '[eal]\nhuge = no\n[port0]\ndevice = net_af_packet0,qpairs=2\nipv4 = 198.51.100.10/24\n' |
	refuse af_packet_no_iface "[port0] device" "iface=NAME"
printf '[eal]\nhuge = no\n[port0]\ndevice = net_af_packet0,iface=lo,qpairs=2,qpair=2\nipv4 = 198.51.100.10/24\n' |
	refuse af_packet_unknown_arg "[port0] device" '"qpair"'
printf '[eal]\nhuge = no\n[port0]\ndevice = net_af_packet0,iface=lo,qpairs=40\nipv4 = 198.51.100.10/24\n' |
	refuse af_packet_qpairs_range "[port0] device" "qpairs=40" "1 to 16"
printf '%s\n[port1]\ndevice = net_null0\nipv4 = 203.0.113.5/28\n' "$good" |
	refuse same_device_twice "[port1] device" "[port0]'s"
printf '[eal]\nhuge = yes\nhuge_unlink = no\nlcores = (0-16)@0\n[port0]\ndevice = ring:gen0\nipv4 = 198.51.100.10/24\n' |
	refuse ring_tx_queues "[port0] device" "17 TX queues"
printf '[eal]\nhuge = yes\nhuge_unlink = no\n[port0]\ndevice = ring:gen0\nrx_queues = 20\nipv4 = 198.51.100.10/24\n' |
	refuse ring_rx_queues "[port0] rx_queues" "at most 16"
printf '[port0]\ndevice = net_null0\n' | refuse no_address "[port0] ipv4" "missing"
printf '%s\n[port2]\ndevice = net_null2\nipv4 = 203.0.113.5/28\n' "$good" | refuse port_gap "[port1]" "without gaps"
printf '%s\n[global]\nrealm =\n' "$good" | refuse empty_realm "[global] realm"
# [turn] and [media]: what their start used to refuse, now their sections' checks.
printf '%s\n[turn]\ndefault_lifetime_s = 900\nmax_lifetime_s = 600\n' "$good" |
	refuse turn_lifetimes "[turn] max_lifetime_s" "default_lifetime_s"
printf '%s\n[turn]\nrelay_port_min = 60000\nrelay_port_max = 50000\n' "$good" |
	refuse turn_relay_range "[turn] relay_port_min" "relay_port_max"
printf '%s\n[turn]\nlisten_port = 50000\n' "$good" |
	refuse turn_listen_in_relay "[turn] relay_port_min, relay_port_max" "[turn] listen_port"
printf '%s\n[turn]\nallowed_peer = 10.0.0.0/33\n' "$good" | refuse turn_allowed_peer "[turn] allowed_peer" "CIDRs"
printf '%s\n[turn]\ndenied_peer = nowhere\n' "$good" | refuse turn_denied_peer "[turn] denied_peer" "CIDRs"
printf '%s\n[media]\nport_min = 30001\n' "$good" | refuse media_port_min_odd "[media] port_min" "even"
printf '%s\n[media]\nport_max = 39998\n' "$good" | refuse media_port_max_even "[media] port_max" "odd"
printf '%s\n[media]\nclear_latch = last\n' "$good" | refuse media_clear_latch "[media] clear_latch" "sdp-host or first"
printf '%s\n[media]\nconsumer = dp one\n' "$good" | refuse media_consumer "[media] consumer" '"dp one"'
printf '%s\n[media]\nport_min = 50000\nport_max = 50999\n' "$good" |
	refuse media_ports_over_turn "[media] port_min, port_max" "[turn] relay_port_min, relay_port_max"
printf '%s\n[dataplane]\nudp_echo_port = 3478\n' "$good" |
	refuse echo_over_turn "[turn] listen_port" "[dataplane] udp_echo_port"

# No stricter than the start: these start elsewhere in the suite (and in production).
printf '[eal]\nlcores = 0-1\nhuge = no\n[port0]\ndevice = net_af_packet0,iface=lo,qpairs=2\nipv4 = 198.51.100.10/24\n' |
	accept af_packet_two_qpairs
printf '[eal]\nlcores = 0@0,1@1,2@1\nhuge = no\n[port0]\ndevice = net_af_packet0,iface=lo,qpairs=3\nipv4 = 198.51.100.10/24\n' |
	accept lcore_map
printf '%s\n[turn]\nenabled = no\n[media]\nport_min = 50000\nport_max = 50999\n' "$good" | accept media_where_turn_is_off
printf '[eal]\nhuge = yes\nhuge_unlink = no\n[port0]\ndevice = ring:gen0\nipv4 = 198.51.100.10/24\n' | accept ring_port

"$DP" -c "$tmp/nonexistent.conf" >"$tmp/nx.out" 2>&1 && pr_fail "missing file accepted"
grep -q "nonexistent.conf: cannot open" "$tmp/nx.out" || pr_fail "missing file message: $(cat "$tmp/nx.out")"
# --help-config lists the tables the parser uses.
"$DP" --help-config >"$tmp/help.txt" || pr_fail "--help-config"
for w in "[eal]" "[dataplane]" "[portN]" "[redis]" burst_size "an integer from 1 to 256"; do
	grep -qF -- "$w" "$tmp/help.txt" || pr_fail "--help-config lacks $w"
done
# Nothing started: no runtime directory for the prefix.
[ ! -e /var/run/dpdk/dp-badconf ] || pr_fail "EAL was started for a refused config"
pr_log PASS
