# Media session records written straight into Redis the way the slowpath writes them
# (docs/redis-keyspace.md, "Media sessions"; common/keyspace_media.c). Source it; the caller
# defines ms_redis (redis-cli on its socket) and MS_RELAY (the relay's address).
#
# A leg is described by words KEY=VALUE:
#   peer=IP:PORT     the device's SDP address (RTP; RTCP on PORT + 1 unless mux=1)
#   relay=PORT       our anchor port on this leg (even)
#   suite=NAME rx=B64 tx=B64   SRTP: key_rx is what the device encrypts with, key_tx what
#                    the relay encrypts toward it with; without suite, the leg is clear RTP
#   mux=0|1 latch=0|1 max_kbps=N   (defaults 0, 1, 0)
#   ufrag=U pwd=P rufrag=R   ICE-lite on the leg: our ice-ufrag and ice-pwd, the peer's ufrag

# ms_key SUITE: a fresh SDES key||salt in base64 (30 bytes, 28 for AEAD_AES_128_GCM).
ms_key() {
	local n=30
	[ "$1" = AEAD_AES_128_GCM ] && n=28
	python3 -c "import base64, os; print(base64.b64encode(os.urandom($n)).decode())"
}

# ms_leg_fields X SPEC: the HSET field/value words of leg X.
ms_leg_fields() {
	local X=$1 kv peer= relay= suite= rx= tx= mux=0 latch=1 max_kbps=0 ufrag= pwd= rufrag=
	for kv in $2; do
		case $kv in
		peer=*) peer=${kv#*=} ;;
		relay=*) relay=${kv#*=} ;;
		suite=*) suite=${kv#*=} ;;
		rx=*) rx=${kv#*=} ;;
		tx=*) tx=${kv#*=} ;;
		mux=*) mux=${kv#*=} ;;
		latch=*) latch=${kv#*=} ;;
		max_kbps=*) max_kbps=${kv#*=} ;;
		ufrag=*) ufrag=${kv#*=} ;;
		pwd=*) pwd=${kv#*=} ;;
		rufrag=*) rufrag=${kv#*=} ;;
		*) echo "ms_leg_fields: bad word $kv" >&2; return 1 ;;
		esac
	done
	printf ' %s_party %s %s_onnet 1 %s_family ip4' "$X" "party-$X" "$X" "$X"
	printf ' %s_peer_addr %s %s_peer_port %s %s_latch %s' "$X" "${peer%:*}" "$X" "${peer##*:}" "$X" "$latch"
	printf ' %s_relay_addr %s %s_relay_port %s %s_rtcp_mux %s' "$X" "$MS_RELAY" "$X" "$relay" "$X" "$mux"
	if [ -n "$suite" ]; then
		printf ' %s_profile RTP/SAVP %s_suite %s %s_key_rx %s %s_key_tx %s %s_encrypted 1' \
			"$X" "$X" "$suite" "$X" "$rx" "$X" "$tx" "$X"
	else
		printf ' %s_profile RTP/AVP %s_encrypted 0' "$X" "$X"
	fi
	printf ' %s_max_kbps %s' "$X" "$max_kbps"
	[ -z "$ufrag" ] || printf ' %s_ice_ufrag %s' "$X" "$ufrag"
	[ -z "$pwd" ] || printf ' %s_ice_pwd %s' "$X" "$pwd"
	[ -z "$rufrag" ] || printf ' %s_ice_remote_ufrag %s' "$X" "$rufrag"
}

# ms_tx: runs the commands on stdin as one MULTI/EXEC; fails when Redis refuses any.
ms_tx() {
	local out
	out=$({ echo MULTI; cat; echo EXEC; } | ms_redis 2>&1) || { echo "$out" >&2; return 1; }
	if echo "$out" | grep -q 'ERR\|EXECABORT\|WRONGTYPE'; then
		echo "$out" >&2
		return 1
	fi
}

# ms_store OP ID A_SPEC B_SPEC: DEL + HSET pr:session:ID, SADD pr:sessions, XADD op OP
# (install or update), in one transaction (pr_ks_session_store). idle_timeout_s: MS_IDLE
# (default 600; 0: the dataplane's session_idle_s).
ms_store() {
	local op=$1 id=$2 now a b
	now=$(date +%s)
	a=$(ms_leg_fields a "$3") || return 1
	b=$(ms_leg_fields b "$4") || return 1
	ms_tx <<EOF
DEL pr:session:$id
HSET pr:session:$id v 1 id $id call_id call-$id@media-relay.test cdr_id cdr-$id media audio mline 0 idle_timeout_s ${MS_IDLE:-600} created $now updated $now$a$b
SADD pr:sessions $id
XADD pr:sessions:stream MAXLEN ~ 100000 * op $op id $id ts $now
EOF
}

# ms_end ID: DEL the hash, SREM pr:sessions, XADD op end, in one transaction
# (pr_ks_session_end).
ms_end() {
	ms_tx <<EOF
DEL pr:session:$1
SREM pr:sessions $1
XADD pr:sessions:stream MAXLEN ~ 100000 * op end id $1 ts $(date +%s)
EOF
}
