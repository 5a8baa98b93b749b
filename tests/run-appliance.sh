#!/usr/bin/env bash
# `make run`: the whole appliance on virtual ports, until Ctrl-C.
#
#   namespace pr-pop     the dataplane's port: net_af_packet on veth pr-pop0 (no kernel
#                        address on it; the dataplane answers ARP/ND/ICMP itself)
#   namespace pr-client  a client on pr-cli0: 198.51.100.20/24, 2001:db8:100::20/64
#   redis-server         on a unix socket in a private directory
#   poprelay-dataplane   images/poprelay.conf with the virtual port filled in
#
# To add a process: write a start_<name> function that calls pr_start NAME NS CMD... and
# add <name> to PROCESSES below.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
. tests/lib.sh
# A second Ctrl-C (or timeout's signal to the whole group) must not cut the cleanup short.
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root

PROCESSES=(dataplane)
APPLIANCE_IP4=198.51.100.10
APPLIANCE_IP6=2001:db8:100::10
RUN=$(pr_tmpdir)
CONF=$RUN/poprelay.conf

# pr_start NAME NS CMD...: run CMD in namespace NS (or "-" for the host), log to
# $RUN/NAME.log, stop it at exit (SIGTERM, then SIGKILL).
pr_start() {
	local name=$1 ns=$2 pid
	shift 2
	if [ "$ns" = - ]; then
		"$@" >"$RUN/$name.log" 2>&1 &
	else
		ip netns exec "$ns" "$@" >"$RUN/$name.log" 2>&1 &
	fi
	pid=$!
	echo "$pid" >"$RUN/$name.pid"
	pr_on_exit "kill -TERM $pid 2>/dev/null; for _w in \$(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done; kill -KILL $pid 2>/dev/null"
	pr_log "$name started (pid $pid, log $RUN/$name.log)"
}

topology() {
	pr_netns pr-pop
	pr_netns pr-client
	pr_veth pr-pop pr-pop0 pr-client pr-cli0
	ip netns exec pr-pop sysctl -qw net.ipv6.conf.pr-pop0.disable_ipv6=1
	ip -n pr-client addr add 198.51.100.20/24 dev pr-cli0
	ip -n pr-client addr add 2001:db8:100::20/64 dev pr-cli0 nodad
}

config() {
	local huge=no
	# (pr_hugepages exits on failure: only try where hugetlbfs can work at all)
	if grep -qw hugetlbfs /proc/filesystems && [ -w /proc/sys/vm/nr_hugepages ]; then
		pr_hugepages 256
		huge=yes
	fi
	# The default configuration, with the virtual port and this run's paths.
	sed -e "s|^device = .*|device = net_af_packet0,iface=pr-pop0,qpairs=2|" \
		-e "s|^huge = .*|huge = $huge|" \
		-e "s|^memory_mb = .*|memory_mb = 256|" \
		-e "s|^mbuf_pool_size = .*|mbuf_pool_size = 8191|" \
		-e "s|^worker_idle_sleep_us = .*|worker_idle_sleep_us = 100|" \
		-e "s|^socket = .*|socket = $RUN/redis.sock|" \
		images/poprelay.conf >"$CONF"
	pr_log "configuration: $CONF (hugepages: $huge)"
}

start_dataplane() {
	pr_start dataplane pr-pop "$BUILD/poprelay-dataplane" -c "$CONF"
	pr_wait_for 30 "$BUILD/poprelayctl" -c "$CONF" status ||
		{ cat "$RUN/dataplane.log"; pr_fail "the dataplane did not come up"; }
}

show() {
	echo
	echo "== ping from pr-client"
	ip netns exec pr-client ping -c 3 -i 0.3 "$APPLIANCE_IP4" | tail -2
	ip netns exec pr-client ping -6 -c 3 -i 0.3 "$APPLIANCE_IP6" | tail -2
	echo
	echo "== poprelayctl status"
	"$BUILD/poprelayctl" -c "$CONF" status
	echo
	echo "== poprelayctl stats"
	"$BUILD/poprelayctl" -c "$CONF" stats
	echo
	echo "The appliance is running. Try:"
	echo "  ip netns exec pr-client ping $APPLIANCE_IP4"
	echo "  $BUILD/poprelayctl -c $CONF stats"
	echo "  dpdk-telemetry.py -f $(sed -n 's/^file_prefix = //p' "$CONF")"
	echo "Ctrl-C stops it and cleans up."
}

topology
pr_redis_start "$RUN"
config
for p in "${PROCESSES[@]}"; do "start_$p"; done
show
# Run until Ctrl-C (lib.sh turns INT/TERM into exit, which tears everything down) or until
# a process dies.
while :; do
	for p in "${PROCESSES[@]}"; do
		kill -0 "$(cat "$RUN/$p.pid")" 2>/dev/null || { tail -20 "$RUN/$p.log"; pr_fail "$p exited"; }
	done
	sleep 1
done
