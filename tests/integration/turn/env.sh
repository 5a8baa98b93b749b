# Shared setup for TURN integration tests (source after tests/lib.sh): the world of
# turn_uclient.sh, IPv4 only and parametrised by a namespace prefix so tests can run side by
# side.
#
#   te_up NS [CONF_LINE...]  namespaces NS-pop (the dataplane's port NS0p on net_af_packet,
#                            198.51.100.10/24, TURN on 3478, relay ports 50000-50999) and
#                            NS-cli (198.51.100.20, gateway of the dataplane; the peer
#                            203.0.113.5, in [turn] allowed_peer), a private Redis, the
#                            dataplane, and turnutils_peer on 203.0.113.5:3480. Extra lines go
#                            to [turn]. Sets TE_DIR (temp dir: dp.conf, dp.log, uc-*.log).
#   te_ctl ARGS...           poprelayctl on this world's Redis
#   te_rcli ARGS...          redis-cli on it
#   te_stat NAME             a field of /poprelay/turn/stats
#   te_uclient NAME ok|fail ARGS...
#                            turnutils_uclient in NS-cli toward the relay: "ok" needs every
#                            datagram back (0 lost), "fail" needs it to get no relay at all
#   te_dump                  telemetry and the dataplane log's tail, on stderr
# NS must be short: interface names are NS0p / NS0c (15 characters at most).

TE_SRV=198.51.100.10
TE_PEER=203.0.113.5

te_up() {
	TE_NS=$1
	shift
	pr_need_root
	command -v turnutils_uclient >/dev/null || pr_skip "coturn's turnutils_uclient not installed"
	local b
	for b in "$BUILD/poprelay-dataplane" "$BUILD/poprelayctl"; do
		[ -x "$b" ] || pr_fail "$b not built (make build)"
	done
	TE_TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
	TE_PREFIX=$TE_NS-turn
	TE_DIR=$(pr_tmpdir)
	pr_redis_start "$TE_DIR"
	pr_netns "$TE_NS-pop"
	pr_netns "$TE_NS-cli"
	pr_veth "$TE_NS-pop" "${TE_NS}0p" "$TE_NS-cli" "${TE_NS}0c"
	ip netns exec "$TE_NS-pop" sysctl -qw "net.ipv6.conf.${TE_NS}0p.disable_ipv6=1"
	ip -n "$TE_NS-cli" addr add 198.51.100.20/24 dev "${TE_NS}0c"
	ip -n "$TE_NS-cli" addr add $TE_PEER/32 dev "${TE_NS}0c"
	{
		printf '[global]\nrealm = %s.example\n' "$TE_NS"
		printf '[eal]\nlcores = 0-1\nmemory_mb = 256\nhuge = no\nfile_prefix = %s\n' "$TE_PREFIX"
		printf '[dataplane]\nmbuf_pool_size = 8191\nmbuf_cache_size = 64\nworker_idle_sleep_us = 50\n'
		[ -z "${TE_DP_EXTRA:-}" ] || printf '%s\n' "$TE_DP_EXTRA"
		printf '[redis]\nsocket = %s/redis.sock\n' "$TE_DIR"
		printf '[port0]\ndevice = net_af_packet0,iface=%s0p,qpairs=2\n' "$TE_NS"
		printf 'ipv4 = %s/24\ngateway4 = 198.51.100.20\n' $TE_SRV
		printf '[turn]\nrelay_port_min = 50000\nrelay_port_max = 50999\n'
		printf 'allowed_peer = 203.0.113.0/24\nnonce_secret_file = %s/nonce.key\n' "$TE_DIR"
		local l
		for l in "$@"; do printf '%s\n' "$l"; done
	} >"$TE_DIR/dp.conf"
	ip netns exec "$TE_NS-pop" "$BUILD/poprelay-dataplane" -c "$TE_DIR/dp.conf" \
		>>"$TE_DIR/dp.out" 2>>"$TE_DIR/dp.log" &
	TE_DP_PID=$!
	pr_on_exit "kill $TE_DP_PID 2>/dev/null; sleep 0.5; kill -9 $TE_DP_PID 2>/dev/null"
	pr_wait_for 20 $TE_TEL "$TE_PREFIX" /poprelay/turn/stats ||
		{ cat "$TE_DIR/dp.log" >&2; pr_fail "dataplane did not come up with the turn feature"; }
	ip netns exec "$TE_NS-cli" turnutils_peer -L $TE_PEER -p 3480 >"$TE_DIR/peer.log" 2>&1 &
	pr_on_exit "kill $! 2>/dev/null"
	sleep 0.5
}

te_ctl() { "$BUILD/poprelayctl" -c "$TE_DIR/dp.conf" "$@"; }
te_rcli() { redis-cli -s "$TE_DIR/redis.sock" "$@"; }
te_stat() {
	$TE_TEL "$TE_PREFIX" /poprelay/turn/stats |
		python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/turn/stats']['$1'])"
}
te_dump() {
	$TE_TEL "$TE_PREFIX" /poprelay/turn/stats /poprelay/drops >&2 || true
	tail -20 "$TE_DIR/dp.log" >&2
}

te_uclient() {
	local name=$1 want=$2 out=$TE_DIR/uc-$1.log rc=0 lost
	shift 2
	timeout 60 ip netns exec "$TE_NS-cli" turnutils_uclient "$@" >"$out" 2>&1 || rc=$?
	lost=$(sed -n 's/.*Total lost packets \([0-9]*\).*/\1/p' "$out" | tail -1)
	if [ "$want" = ok ]; then
		if [ "$rc" != 0 ] || [ "${lost:-x}" != 0 ]; then
			tail -30 "$out" >&2
			te_dump
			pr_fail "$name: rc=$rc lost=${lost:-?}"
		fi
		pr_log "ok: $name: $(grep -E 'Total (lost|send)' "$out" | tr '\n' ' ')"
	else
		if [ "${lost:-x}" = 0 ] && [ "$rc" = 0 ] && ! grep -qi 'error\|fail' "$out"; then
			tail -30 "$out" >&2
			pr_fail "$name: expected a refusal, but the client relayed"
		fi
		pr_log "ok: $name refused (rc=$rc)"
	fi
}
