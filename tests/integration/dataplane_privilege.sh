#!/usr/bin/env bash
# parallel: hugepages
# Least privilege: the dataplane runs under exactly the capability bounding set of its
# systemd unit (images/poprelay-dataplane.service) on hugepages and net_af_packet, answers
# ARP and ping, and serves telemetry; without CAP_NET_RAW it refuses to start with a message
# instead of running blind.
source "$(dirname "$0")/../lib.sh"
pr_need_root
command -v setpriv >/dev/null || pr_skip "setpriv (util-linux) missing"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$PR_ROOT/images/poprelay-dataplane.service")
[ -n "$caps" ] || pr_fail "the dataplane unit sets no CapabilityBoundingSet"
bset="-all"
for c in $caps; do bset="$bset,+$(tr 'A-Z' 'a-z' <<<"${c#CAP_}")"; done

pr_netns pv-pop
pr_netns pv-cli
pr_veth pv-pop pv0p pv-cli pv0c
ip -n pv-cli addr add 198.51.100.20/24 dev pv0c
d=$(pr_tmpdir)
prefix=pv-priv$$
pr_on_exit "rm -rf /var/run/dpdk/$prefix"
huge=no
pr_hugepages 128 2>/dev/null && huge=yes
sed -e "s|^device = .*|device = net_af_packet0,iface=pv0p,qpairs=2|" -e "s|^huge = .*|huge = $huge|" \
	-e "s|^memory_mb = .*|memory_mb = 128|" -e "s|^mbuf_pool_size = .*|mbuf_pool_size = 4095|" \
	-e "s|^file_prefix = .*|file_prefix = $prefix|" -e "s|^user = .*|user =|" \
	-e "s|^password_file = .*|password_file =|" -e "s|^socket = .*|socket = $d/none.sock|" \
	-e "s|^worker_idle_sleep_us = .*|worker_idle_sleep_us = 100|" \
	"$PR_ROOT/images/poprelay.conf" >"$d/dp.conf"
# TURN off: this test is about privileges; it also keeps a dataplane with [turn] enabled = no
# running (its control poll once dereferenced the TURN server that init never made).
printf '[turn]\nenabled = no\n' >>"$d/dp.conf"

pr_log "bounding set: $bset (hugepages: $huge)"
ip netns exec pv-pop setpriv --bounding-set "$bset" --inh-caps=-all \
	"$BUILD/poprelay-dataplane" -c "$d/dp.conf" >"$d/dp.log" 2>&1 &
pid=$!
pr_on_exit "kill $pid 2>/dev/null; sleep 1; kill -9 $pid 2>/dev/null"
pr_wait_for 30 "$BUILD/poprelayctl" -c "$d/dp.conf" stats ||
	{ cat "$d/dp.log"; pr_fail "dataplane did not come up under the unit's capabilities"; }
bnd=$(awk '/^CapBnd/{print $2}' /proc/$pid/status)
[ "$bnd" != 000001ffffffffff ] && [ "$bnd" != 000003ffffffffff ] || pr_fail "bounding set not applied ($bnd)"
ip netns exec pv-cli ping -c 3 -i 0.2 -W 2 198.51.100.10 >"$d/ping" || { cat "$d/ping"; pr_fail "no ping answer"; }
"$BUILD/poprelayctl" -c "$d/dp.conf" stats --json | grep -q '"icmp_echo_out": 3' ||
	pr_fail "telemetry does not count the 3 echo answers"
kill -TERM $pid
wait $pid; rc=$?
[ $rc = 0 ] || { cat "$d/dp.log"; pr_fail "exit $rc on SIGTERM under the unit's capabilities"; }

pr_log "without CAP_NET_RAW: a clear refusal"
ip netns exec pv-pop setpriv --bounding-set "$bset,-net_raw" --inh-caps=-all \
	"$BUILD/poprelay-dataplane" -c "$d/dp.conf" >"$d/dp2.log" 2>&1 &
pid2=$!
pr_on_exit "kill -9 $pid2 2>/dev/null"
pr_wait_for 30 sh -c "! kill -0 $pid2 2>/dev/null" || pr_fail "dataplane without CAP_NET_RAW kept running"
wait $pid2; rc=$?
[ $rc != 0 ] || pr_fail "dataplane without CAP_NET_RAW exited 0"
grep -qiE "error|fail|refus" "$d/dp2.log" || { cat "$d/dp2.log"; pr_fail "no message on failure"; }
pr_log "dataplane_privilege: pass"
