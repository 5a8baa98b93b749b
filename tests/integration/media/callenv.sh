# Shared setup for media_offnet.sh and media_hold.sh (source after tests/lib.sh and
# tests/integration/slowpath/common.sh): the world of media_call.sh, parametrised.
#
#   ce_init NS DPDK_PREFIX   checks, $D, R(), TEL; namespaces are called NS-pop, NS-lan, NS-NAME
#   ce_topology NAME=IP ...  bridge NS-br in NS-lan joining NS-dp (the dataplane's port, no
#                            kernel address), NS-sig ($SP_ADDR, the slowpath) and one namespace
#                            per device (interface NS-NAME, its bridge port NS-lNAME)
#   ce_dataplane             the dataplane on NS-dp ($DP_IP) with a [media] section; lines in
#                            $CE_DP_EXTRA (if set) are appended to it (e.g. dtls_socket, [dtls]);
#                            CE_HUGE=no: no hugepages (they may be taken by a make run)
#   ce_slowpath [LINE...]    the slowpath on $SP_ADDR (TLS 5061, UDP/TCP 5060), extra [sip] lines
#   ce_baresip_conf NAME ACCOUNT_LINE [CONFIG_LINE...]
#                            $D/NAME/config + accounts; the device plays $D/NAME.wav and its
#                            sndfile dumps go to $D/NAME
#   ce_baresip NAME TIMEOUT_S [ARGS...]  runs baresip in NAME's namespace; sets BS_PID
#   ce_capture_start NAME TAG / ce_capture_stop TAG
#                            dumpcap of every UDP datagram on NAME's bridge port: $D/TAG.pcap
#   ce_session FILE          the one live session's record (HGETALL) into FILE; echoes its id
#   ce_check_stream_consumed  the dataplane consumed pr:sessions:stream, nothing pending
#   ce_ended                 waits until the sessions are gone and their ends applied
#   ce_dump_logs, ce_fail MSG
#
# Addresses: 198.51.100.0/24, dataplane .10, slowpath .2; media ports 31000-31999.

ce_init() {
	CE_NS=$1
	PREFIX=$2
	pr_need_root
	command -v baresip >/dev/null || pr_skip "baresip not installed"
	command -v dumpcap >/dev/null || pr_skip "dumpcap (wireshark-common) not installed"
	DP=$BUILD/poprelay-dataplane
	local b
	for b in "$DP" "$BUILD/poprelay-slowpath" "$BUILD/poprelayctl"; do
		[ -x "$b" ] || pr_fail "$b not built (make build)"
	done
	MEDIA=$PR_ROOT/tests/integration/media
	TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
	DP_IP=198.51.100.10
	SP_ADDR=198.51.100.2
	PORTS=31000-31999
	D=$(pr_tmpdir)
	CE_DEVICES=()
	declare -gA CE_CAP=()
}

R() { redis-cli -s "$D/redis.sock" "$@"; }

ce_dump_logs() {
	local f
	for f in sp.log dp.log "${CE_DEVICES[@]/%/.log}"; do
		[ -s "$D/$f" ] || continue
		echo "--- tail of $f" >&2
		tail -n 30 "$D/$f" >&2
	done
	echo "--- dataplane telemetry" >&2
	$TEL $PREFIX /poprelay/stats /poprelay/drops /poprelay/media/stats >&2 2>&1 || true
}
ce_fail() {
	ce_dump_logs
	pr_fail "$*"
}

ce_topology() {
	local n ip spec
	pr_netns $CE_NS-pop
	pr_netns $CE_NS-lan
	ip -n $CE_NS-lan link add $CE_NS-br type bridge || pr_fail "bridge"
	ip -n $CE_NS-lan link set $CE_NS-br up
	pr_veth $CE_NS-pop $CE_NS-dp $CE_NS-lan $CE_NS-ldp
	pr_veth $CE_NS-pop $CE_NS-sig $CE_NS-lan $CE_NS-lsig
	ip -n $CE_NS-lan link set $CE_NS-ldp master $CE_NS-br
	ip -n $CE_NS-lan link set $CE_NS-lsig master $CE_NS-br
	ip netns exec $CE_NS-pop sysctl -qw net.ipv6.conf.$CE_NS-dp.disable_ipv6=1
	ip -n $CE_NS-pop addr add $SP_ADDR/24 dev $CE_NS-sig
	for spec in "$@"; do
		n=${spec%%=*}
		ip=${spec#*=}
		CE_DEVICES+=("$n")
		eval "IP_$n=$ip"
		pr_netns $CE_NS-$n
		pr_veth $CE_NS-$n $CE_NS-$n $CE_NS-lan $CE_NS-l$n
		ip -n $CE_NS-lan link set $CE_NS-l$n master $CE_NS-br
		ip -n $CE_NS-$n addr add "$ip/24" dev $CE_NS-$n
	done
	for n in "${CE_DEVICES[@]}"; do
		ip netns exec $CE_NS-$n ping -c 1 -W 3 $SP_ADDR >/dev/null || pr_fail "$n cannot reach $SP_ADDR"
	done
}

ce_dataplane() {
	local huge=no n
	pr_redis_start "$D"
	if [ "${CE_HUGE:-yes}" = yes ] && grep -qw hugetlbfs /proc/filesystems &&
		[ -w /proc/sys/vm/nr_hugepages ]; then
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
		-e "s|^device = .*|device = net_af_packet0,iface=$CE_NS-dp,qpairs=2|" \
		-e "s|^ipv4 = .*|ipv4 = $DP_IP/24|" \
		-e "/^ipv6 = /d" -e "/^gateway[46] = /d" \
		"$PR_ROOT/images/poprelay.conf" >"$D/dp.conf"
	cat >>"$D/dp.conf" <<CONF

[media]
enabled = yes
port_min = ${PORTS%-*}
port_max = ${PORTS#*-}
consumer = $PREFIX
clear_latch = sdp-host
${CE_DP_EXTRA:-}
CONF
	"$DP" -c "$D/dp.conf" --check-config >"$D/dp-check.log" 2>&1 ||
		{ cat "$D/dp-check.log" >&2; pr_fail "the dataplane refuses its configuration"; }
	ip netns exec $CE_NS-pop "$DP" -c "$D/dp.conf" >"$D/dp.out" 2>"$D/dp.log" &
	DP_PID=$!
	pr_on_exit "kill $DP_PID 2>/dev/null; for _w in \$(seq 50); do kill -0 $DP_PID 2>/dev/null || break; sleep 0.1; done; kill -9 $DP_PID 2>/dev/null"
	pr_wait_for 30 $TEL $PREFIX /poprelay/info || ce_fail "the dataplane did not come up"
	for n in "${CE_DEVICES[@]}"; do
		ip netns exec $CE_NS-$n ping -c 1 -W 3 $DP_IP >/dev/null ||
			ce_fail "$n gets no answer from the dataplane at $DP_IP"
	done
	echo "ok: dataplane up on $DP_IP (hugepages: $huge), answering ${CE_DEVICES[*]}"
}

ce_slowpath() {
	sp_certs "$D"
	SP_NETNS=$CE_NS-pop
	# baresip 1.0 (libre 1.0) aborts on a SHA-256 challenge: offer MD5 only
	sp_config "$D" 5061 5060 "digest_algorithms = MD5" "$@"
	sed -i "s|^media_addr = .*|media_addr = $DP_IP|" "$D/sp.conf"
	grep -q "^media_addr = $DP_IP\$" "$D/sp.conf" && grep -q "^media_ports = $PORTS\$" "$D/sp.conf" ||
		pr_fail "sp.conf: media_addr/media_ports not set"
	sp_start "$D"
}

ce_baresip_conf() { # name account-line [config lines...]
	local n=$1 acc=$2 ip
	shift 2
	eval "ip=\$IP_$n"
	mkdir -p "$D/$n"
	{
		cat <<CFG
poll_method epoll
sip_listen $ip:5070
sip_cafile $D/ca.crt
net_interface $CE_NS-$n
audio_source aufile,$D/$n.wav
snd_path $D/$n
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module sndfile.so
module_app account.so
module_app menu.so
CFG
		local l
		for l in "$@"; do echo "$l"; done
	} >"$D/$n/config"
	echo "$acc" >"$D/$n/accounts"
}

ce_baresip() { # name timeout [args...]
	local n=$1 t=$2
	shift 2
	ip netns exec $CE_NS-$n baresip -s -f "$D/$n" -t "$t" "$@" >>"$D/$n.log" 2>&1 </dev/null &
	BS_PID=$!
	pr_on_exit "kill $BS_PID 2>/dev/null"
}

ce_capture_start() { # name tag
	local n=$1 tag=$2 pid
	ip netns exec $CE_NS-lan dumpcap -q -P -i $CE_NS-l$n -f udp -w "$D/$tag.pcap" >/dev/null 2>"$D/cap-$tag.err" &
	pid=$!
	CE_CAP[$tag]=$pid
	pr_on_exit "kill -INT $pid 2>/dev/null; sleep 0.3; kill -9 $pid 2>/dev/null"
	pr_wait_for 10 grep -q "Capturing on" "$D/cap-$tag.err" || ce_fail "dumpcap on $CE_NS-l$n did not start"
}

ce_capture_stop() { # tag...
	local tag pid
	for tag in "$@"; do
		pid=${CE_CAP[$tag]}
		kill -INT "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
}

ce_session() { # file: the one live session's record; echoes its id
	local sid
	sid=$(R SMEMBERS pr:sessions)
	R HGETALL "pr:session:$sid" >"$1" # (holds the legs' keys: stays in $D)
	echo "$sid"
}

# ce_field FILE KEY: a field of a `redis-cli HGETALL` dump
ce_field() {
	awk -v k="$2" 'NR % 2 == 1 && $0 == k { getline; print; exit }' "$1"
}

# ce_check_stream_consumed: the dataplane's group consumed pr:sessions:stream to its end,
# nothing pending (prints ok:/FAIL:)
# ce_ended: the call's sessions are gone from Redis and the dataplane has applied their end
# (it acknowledges an end only after it added its last figures to the CDR): call before
# reading a CDR's media figures.
ce_ended() {
	local t
	for t in $(seq 100); do
		if [ "$(R SCARD pr:sessions)" = 0 ] && ce_check_stream_consumed >/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

ce_check_stream_consumed() {
	local g last
	g=$(R XINFO GROUPS pr:sessions:stream | paste -sd' ')
	last=$(R XREVRANGE pr:sessions:stream + - COUNT 1 | head -1)
	gf() { echo "$g" | awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }'; }
	if [ "$(gf name)" = dataplane ] && [ "$(gf pending)" = 0 ] && [ "$(gf last-delivered-id)" = "$last" ]; then
		echo "ok: the dataplane consumed pr:sessions:stream (group dataplane: pending 0, last delivered $last)"
	else
		echo "FAIL: pr:sessions:stream not consumed: groups: $g; the stream's last entry $last"
		return 1
	fi
}
