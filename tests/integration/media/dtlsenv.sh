# Shared setup for media_dtls.sh, media_bundle.sh, media_dtls_hostile.sh and
# media_dtls_rotate.sh (source after tests/lib.sh): the media anchor with a DTLS-SRTP
# browser leg, parametrised. The world: the dataplane on net_af_packet in NS-pop, poprelay-dtls
# attached to it over its unix socket, Redis; session records written the way the slowpath
# writes them (tests/integration/media/sessions.sh).
#
#   de_init NS DPDK_PREFIX   checks, $tmp, Redis, ms_* helpers, KB_RX/KB_TX (leg b's SDES
#                            keys), FAILS, PIDS; namespaces are called NS-pop, NS-br, NS-NAME
#   de_topology NAME[=IP]... bridge NSbr in NS-br joining NS-pop (interface NSp0, the
#                            dataplane's port) and one namespace per device (interface NSNAME0,
#                            IP/24 on it if given; add more addresses yourself)
#   de_start                 writes $tmp/dp.conf, starts the dataplane and poprelay-dtls, sets
#                            AFPR (pr:dtls:fingerprint), pings the relay from every device, and
#                            makes the browser's certificate ($tmp/browser.*, BFPR) and another
#                            one ($tmp/other.*)
#   de_start_dp              the dataplane (again, after a kill -9): dp_pid
#   de_start_dtls CONFIG / de_stop_dtls   poprelay-dtls (until it published its fingerprint;
#                            dtls_pid) / stopped, until the dataplane saw it go
#   de_store ID A_PORT [SETUP] [LOCAL_FPR]  a session (leg a a browser's with $BFPR, leg b an
#                            SDES device on A_PORT + 2), installed
#   de_exporter / de_scrape  poprelay-exporter in NS-pop / a scrape into $tmp/m between two
#                            telemetry reads, checked by promtool and webrtc_metrics.py
#   de_finish NAME           lists the failures and exits 1, or says all passed
#   chk LABEL ARGS...        check.py ARGS: "ok: LABEL" or a failure added to FAILS
#   peer NS NAME ARGS... / waitp NAME...   mpeer in NS into $tmp/NAME.json / wait for them
#   dtls NS IP:PORT [ARGS...]  media/dtlspeer, the browser's transport, with its certificate,
#                            AFPR and the words of DE_DTLS_ARGS (e.g. the ICE credentials)
#   tel, mstats, drops, sess ID, live ID, attached, events, has_event ID REASON, fpr_of PEM
#
# Options (set after de_init): DE_PORTS (31000-31199), DE_DTLS_CONF (the [dtls] lines besides
# the sockets and cert_dir; "handshake_timeout_s = 4"), DE_DTLS_ARGS (an array; empty).
# Addresses: 198.51.100.0/24, the relay .10, devices a .21, b .22, x .66.

de_init() {
	DE_NS=$1
	PREFIX=$2
	# a second signal while the cleanup runs must not cut it short
	trap 'trap "" INT TERM; exit 130' INT TERM
	pr_need_root
	DP=$BUILD/poprelay-dataplane
	DTLS=$BUILD/poprelay-dtls
	CTL=$BUILD/poprelayctl
	EXP=$BUILD/poprelay-exporter
	MPEER=$BUILD/tests/integration/media/mpeer
	PEER=$BUILD/tests/integration/media/dtlspeer
	H=$PR_ROOT/tests/integration/media
	local b
	for b in "$DP" "$DTLS" "$MPEER" "$PEER" "$CTL" "$EXP"; do [ -x "$b" ] || pr_fail "$b not built"; done
	TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
	RELAY=198.51.100.10
	IPA=198.51.100.21
	IPB=198.51.100.22
	IPX=198.51.100.66
	S80=AES_CM_128_HMAC_SHA1_80
	UFRAG=anch0r
	PWD=Pr1v8+ice/pwd/of/the/anchor
	RUFRAG=br0wser
	DE_PORTS=31000-31199
	DE_DTLS_CONF="handshake_timeout_s = 4"
	DE_DTLS_ARGS=()
	DE_DEVICES=()
	FAILS=()
	declare -gA PIDS=()

	tmp=$(pr_tmpdir)
	pr_redis_start "$tmp"
	MS_RELAY=$RELAY
	. "$H/sessions.sh"
	KB_RX=$(ms_key $S80) KB_TX=$(ms_key $S80)
}

ms_redis() { redis-cli -s "$tmp/redis.sock" "$@"; }
tel() { $TEL $PREFIX "$@"; }
mstats() { tel /poprelay/media/stats; }
drops() { tel /poprelay/drops; }
sess() { tel "/poprelay/media/session,$1"; }
live() { sess "$1" | grep -q '"id"'; }
attached() { mstats | grep -q '"dtls_process_attached": 1'; }
events() { ms_redis XRANGE pr:sessions:events - + | paste -sd' '; }
# has_event ID REASON: 1 when pr:sessions:events reports session ID to end for REASON
has_event() { events | grep -cE "(^| )id $1 cdr_id cdr-$1 reason $2( |$)" || true; }
fpr_of() { echo "sha-256 $(openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//')"; }

de_topology() {
	local spec n ns
	for ns in $DE_NS-pop $DE_NS-br; do
		pr_netns $ns
		ip netns exec $ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
	done
	ip -n $DE_NS-br link add ${DE_NS}br type bridge
	ip -n $DE_NS-br link set ${DE_NS}br up
	pr_veth $DE_NS-pop ${DE_NS}p0 $DE_NS-br ${DE_NS}bp
	ip -n $DE_NS-br link set ${DE_NS}bp master ${DE_NS}br
	for spec in "$@"; do
		n=${spec%%=*}
		DE_DEVICES+=("$n")
		pr_netns $DE_NS-$n
		ip netns exec $DE_NS-$n sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
		pr_veth $DE_NS-$n ${DE_NS}${n}0 $DE_NS-br ${DE_NS}b$n
		ip -n $DE_NS-br link set ${DE_NS}b$n master ${DE_NS}br
		[ "$spec" = "$n" ] || ip -n $DE_NS-$n addr add "${spec#*=}/24" dev ${DE_NS}${n}0
	done
}

de_start() {
	local d c
	sed -e "s|^device = .*|device = net_af_packet0,iface=${DE_NS}p0,qpairs=2|" \
		-e "s|^huge = .*|huge = no|" -e "s|^memory_mb = .*|memory_mb = 256|" \
		-e "s|^file_prefix = .*|file_prefix = $PREFIX|" \
		-e "s|^mbuf_pool_size = .*|mbuf_pool_size = 8191|" \
		-e "s|^worker_idle_sleep_us = .*|worker_idle_sleep_us = 20|" \
		-e "s|^socket = .*|socket = $tmp/redis.sock|" \
		-e "s|^user = .*|user =|" -e "s|^password_file = .*|password_file =|" \
		"$PR_ROOT/images/poprelay.conf" >"$tmp/dp.conf"
	cat >>"$tmp/dp.conf" <<CONF

[media]
port_min = ${DE_PORTS%-*}
port_max = ${DE_PORTS#*-}
consumer = dataplane
stats_interval_ms = 500
dtls_socket = $tmp/dtls.sock

[dtls]
dataplane_socket = $tmp/dtls.sock
cert_dir = $tmp/anchor-cert
$DE_DTLS_CONF
CONF
	pr_on_exit "rm -rf /var/run/dpdk/$PREFIX"
	de_start_dp
	de_start_dtls "$tmp/dp.conf"
	AFPR=$(ms_redis GET pr:dtls:fingerprint)
	[[ $AFPR =~ ^sha-256\ ([0-9A-F]{2}:){31}[0-9A-F]{2}$ ]] || pr_fail "pr:dtls:fingerprint is '$AFPR'"
	for d in "${DE_DEVICES[@]}"; do
		ip netns exec $DE_NS-$d ping -c 1 -W 2 $RELAY >/dev/null || pr_fail "$DE_NS-$d cannot ping the relay"
	done
	for c in browser other; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=$c \
			-days 2 -keyout "$tmp/$c.key" -out "$tmp/$c.crt" 2>/dev/null
	done
	BFPR=$(fpr_of "$tmp/browser.crt")
}

de_start_dp() {
	ip netns exec $DE_NS-pop "$DP" -c "$tmp/dp.conf" >>"$tmp/dp.out" 2>>"$tmp/dp.log" &
	dp_pid=$!
	pr_on_exit "kill -9 $dp_pid 2>/dev/null"
	pr_wait_for 30 sh -c "$TEL $PREFIX /poprelay/media/stats | grep -q '\"redis_up\": 1'" ||
		{ tail -30 "$tmp/dp.log"; pr_fail "the dataplane did not come up with the media anchor"; }
}

# de_start_dtls CONFIG: returns once the process is attached and has published its
# fingerprint (removed first: a restarted process publishes it again)
de_start_dtls() {
	ms_redis DEL pr:dtls:fingerprint >/dev/null
	"$DTLS" -c "$1" >>"$tmp/dtls.log" 2>&1 &
	dtls_pid=$!
	pr_on_exit "kill $dtls_pid 2>/dev/null"
	pr_wait_for 10 attached || { tail -20 "$tmp/dtls.log"; pr_fail "poprelay-dtls did not attach"; }
	pr_wait_for 10 sh -c "redis-cli -s $tmp/redis.sock EXISTS pr:dtls:fingerprint | grep -q 1" ||
		pr_fail "poprelay-dtls did not publish pr:dtls:fingerprint"
}

de_stop_dtls() {
	kill $dtls_pid
	wait $dtls_pid 2>/dev/null || true
	pr_wait_for 5 sh -c "! $TEL $PREFIX /poprelay/media/stats | grep -q '\"dtls_process_attached\": 1'" || true
}

chk() {
	local label=$1
	shift
	if python3 "$H/check.py" "$@"; then
		pr_log "ok: $label"
	else
		FAILS+=("$label")
		pr_log "FAIL: $label"
	fi
}

peer() {
	local ns=$1 name=$2
	shift 2
	ip netns exec "$ns" "$MPEER" "$@" >"$tmp/$name.json" 2>"$tmp/$name.err" &
	PIDS[$name]=$!
	pr_on_exit "kill ${PIDS[$name]} 2>/dev/null"
}

waitp() {
	local n rc
	for n in "$@"; do
		rc=0
		wait "${PIDS[$n]}" || rc=$?
		[ $rc = 0 ] || { cat "$tmp/$n.err" >&2; pr_fail "mpeer $n exited $rc"; }
	done
}

# dtls NS IP:PORT [ARGS...]: the browser's transport toward leg a (--to RELAY:PORT in ARGS)
dtls() {
	local ns=$1 from=$2
	shift 2
	ip netns exec "$ns" "$PEER" --bind "$from" --cert "$tmp/browser.crt" --key "$tmp/browser.key" \
		--anchor-fpr "$AFPR" "${DE_DTLS_ARGS[@]}" "$@" || true
}

# A session whose leg a is a browser's: ICE-lite and DTLS-SRTP (the slowpath's contract).
# ms_store_dtls OP ID A_PORT FPR B_PORT [SETUP] [LOCAL_FPR]: leg b is an SDES device with
# KB_RX/KB_TX; SETUP our role on leg a (passive unless given); LOCAL_FPR its
# X_dtls_local_fingerprint (none unless given: a record written before the field).
ms_store_dtls() {
	local op=$1 id=$2 ap=$3 fpr=$4 bp=$5 setup=${6:-passive} lf=${7:-} now a b l=
	now=$(date +%s)
	a=$(ms_leg_fields a "peer=$IPA:45000 relay=$ap mux=1 ufrag=$UFRAG pwd=$PWD rufrag=$RUFRAG")
	b=$(ms_leg_fields b "peer=$IPB:$((bp + 10000)) relay=$bp suite=$S80 rx=$KB_RX tx=$KB_TX mux=1")
	[ -z "$lf" ] || l=" a_dtls_local_fingerprint \"$lf\""
	ms_tx <<TX
DEL pr:session:$id
HSET pr:session:$id v 1 id $id call_id call-$id@media-dtls.test cdr_id cdr-$id media audio mline 0 idle_timeout_s 600 created $now updated $now$a$b a_profile RTP/SAVP a_encrypted 1 a_keying dtls a_dtls_setup $setup a_dtls_fingerprint "$fpr"$l
SADD pr:sessions $id
XADD pr:sessions:stream MAXLEN ~ 100000 * op $op id $id ts $now
TX
}

de_store() { # ID A_PORT [SETUP] [LOCAL_FPR]
	ms_store_dtls install "$1" "$2" "$BFPR" $(($2 + 2)) "${3:-passive}" "${4:-}" ||
		pr_fail "session $1: redis refused the record"
	pr_wait_for 5 live "$1" || { tail -5 "$tmp/dp.log"; pr_fail "session $1 not installed"; }
}

de_exporter() {
	ip netns exec $DE_NS-pop "$EXP" -c "$tmp/dp.conf" -l 127.0.0.1:9469 2>"$tmp/exp.log" &
	pr_on_exit "kill $! 2>/dev/null"
}

# de_scrape: fails (promtool's complaints printed) when promtool or webrtc_metrics.py does
de_scrape() {
	local rc=0
	mstats >"$tmp/m0.json"
	pr_wait_for 5 ip netns exec $DE_NS-pop curl -sf -o "$tmp/m" http://127.0.0.1:9469/metrics ||
		{ cat "$tmp/exp.log" >&2; pr_fail "the exporter does not answer"; }
	mstats >"$tmp/m1.json"
	promtool check metrics <"$tmp/m" >"$tmp/promtool.out" 2>&1 || { cat "$tmp/promtool.out"; rc=1; }
	python3 "$H/webrtc_metrics.py" "$tmp/m" "$tmp/m0.json" "$tmp/m1.json" "$PR_ROOT/docs/metrics.md" || rc=1
	return $rc
}

de_finish() { # NAME
	if [ ${#FAILS[@]} -gt 0 ]; then
		printf 'failed: %s\n' "${FAILS[@]}" >&2
		tail -20 "$tmp/dp.log" >&2
		tail -30 "$tmp/dtls.log" >&2
		exit 1
	fi
	pr_log "$1: all scenarios passed"
}
