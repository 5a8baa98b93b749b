# Redis under Sentinel for tests and benches (sourced, after tests/lib.sh): a primary,
# replicas and three sentinels (redis-server --sentinel) on 127.0.0.1, with the ACL users
# as packaged (default user off; the slowpath's and the dataplane's own users; users for
# replication and for the sentinels) on every node, so whichever node is primary the
# processes log in the same way. No persistence: a killed node comes back empty.
#
# The caller sets D (its directory) and, optionally:
#   RS_NS   a network namespace every redis-server and redis-cli runs in
#   RS_CPU  a CPU the redis-servers (nodes and sentinels) are pinned to
# Then:
#   rs_secrets PASSFILE        ADMIN_PW and SP_PW (the slowpath's and the dataplane's
#                              password, written to PASSFILE, mode 600)
#   rs_node N PORT [PRIMARY]   node N on PORT (a replica of 127.0.0.1:PRIMARY), stopped at exit
#   rs_start N PORT            node N again from its configuration (as the sentinels rewrote it)
#   rs_linked PORT [S]         wait up to S (30) seconds for the replica on PORT to be in sync
#   rs_sentinels PRIMARY S1 S2 S3   three sentinels monitoring "poprelay" at 127.0.0.1:PRIMARY
#                              (down-after 1000 ms), ready as rs_sentinels_ready says
#   rs_sentinels_ready [REPLICAS]  each sentinel sees the two others, a primary and REPLICAS
#                              (1) healthy replicas: a failover can happen
#   rs_primary_port            the primary's port, as the first sentinel names it
#   rs_cli PORT ARGS...        redis-cli as admin
# Used by tests/integration/redis_sentinel.sh, ha_redis_media.sh and tests/bench/ha.sh.

rs_exec() { # COMMAND...: in RS_NS when set
	if [ -n "${RS_NS:-}" ]; then ip netns exec "$RS_NS" "$@"; else "$@"; fi
}
rs_server() { # ARGS...: redis-server, in RS_NS and on RS_CPU when set
	if [ -n "${RS_CPU:-}" ]; then rs_exec taskset -c "$RS_CPU" redis-server "$@"; else rs_exec redis-server "$@"; fi
}
rs_cli() {
	local p=$1; shift
	rs_exec redis-cli -p "$p" --no-auth-warning --user admin --pass "$ADMIN_PW" "$@"
}

rs_secrets() {
	ADMIN_PW=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
	SP_PW=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
	(umask 077 && printf '%s\n' "$SP_PW" >"$1")
}

rs_users() {
	cat <<-EOU
	user default off
	user admin on >$ADMIN_PW ~* &* +@all
	user slowpath on >$SP_PW ~pr:* &pr:* +@all -@dangerous
	user dataplane on >$SP_PW ~pr:* &pr:* +@all -@dangerous
	user repl on >$ADMIN_PW +psync +replconf +ping
	user sentinel on >$ADMIN_PW allchannels +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill
	EOU
}

rs_pong() { # PORT
	rs_cli "$1" ping 2>/dev/null | grep -q PONG
}

rs_start() { # N PORT
	rm -f "$D/n$1/redis.pid"
	rs_server "$D/n$1/redis.conf" >/dev/null || pr_fail "redis node $1"
	pr_on_exit "kill -9 \$(cat '$D/n$1/redis.pid' 2>/dev/null) 2>/dev/null"
	pr_wait_for 5 rs_pong "$2" || pr_fail "redis node $1 did not start (see $D/n$1/redis.log)"
}

rs_node() { # N PORT [PRIMARY_PORT]
	local n=$1 port=$2
	mkdir -p "$D/n$n"
	{
		echo "port $port"
		echo "bind 127.0.0.1"
		echo "dir $D/n$n"
		echo "save \"\""
		echo "appendonly no"
		echo "daemonize yes"
		echo "pidfile $D/n$n/redis.pid"
		echo "logfile $D/n$n/redis.log"
		echo "masteruser repl"
		echo "masterauth $ADMIN_PW"
		# a returning node's full resynchronisation starts at once (default: 5 s later)
		echo "repl-diskless-sync-delay 0"
		rs_users
		[ $# -gt 2 ] && echo "replicaof 127.0.0.1 $3"
	} >"$D/n$n/redis.conf"
	rs_start "$n" "$port"
}

rs_link_up() { # PORT
	rs_cli "$1" info replication 2>/dev/null | grep -q 'master_link_status:up'
}
rs_linked() { # PORT [SECONDS]
	pr_wait_for "${2:-30}" rs_link_up "$1" || pr_fail "the replica on $1 did not link to its primary"
}

RS_SENTINELS=
rs_sentinels() { # PRIMARY_PORT S1 S2 S3
	local primary=$1 s=0 port
	shift
	RS_SENTINELS="$*"
	for port in "$@"; do
		s=$((s + 1))
		mkdir -p "$D/s$s"
		cat >"$D/s$s/sentinel.conf" <<-EOC
		port $port
		bind 127.0.0.1
		dir $D/s$s
		daemonize yes
		pidfile $D/s$s/sentinel.pid
		logfile $D/s$s/sentinel.log
		sentinel monitor poprelay 127.0.0.1 $primary 2
		sentinel down-after-milliseconds poprelay 1000
		sentinel failover-timeout poprelay 6000
		sentinel auth-user poprelay sentinel
		sentinel auth-pass poprelay $ADMIN_PW
		EOC
		rs_server "$D/s$s/sentinel.conf" --sentinel >/dev/null || pr_fail "sentinel $s"
		pr_on_exit "kill -9 \$(cat '$D/s$s/sentinel.pid' 2>/dev/null) 2>/dev/null"
	done
	rs_sentinels_ready
	[ "$(rs_primary_port)" = "$primary" ] || pr_fail "the sentinels name $(rs_primary_port), expected $primary"
}

rs_field() { # NAME: the value after the line NAME in a sentinel's answer on stdin
	grep -A1 -x "$1" | tail -1
}
rs_sentinel_ready() { # PORT REPLICAS
	local m r
	m=$(rs_exec redis-cli -p "$1" SENTINEL master poprelay) || return 1
	r=$(rs_exec redis-cli -p "$1" SENTINEL replicas poprelay) || return 1
	[ "$(rs_field num-other-sentinels <<<"$m")" = 2 ] &&
		[ "$(rs_field num-slaves <<<"$m")" = "$2" ] &&
		[ "$(rs_field flags <<<"$m")" = master ] &&
		[ "$(grep -A1 -x master-link-status <<<"$r" | grep -cx ok)" = "$2" ]
}
rs_sentinels_ready() { # [REPLICAS]
	local s
	for s in $RS_SENTINELS; do
		pr_wait_for 40 rs_sentinel_ready "$s" "${1:-1}" ||
			pr_fail "sentinel $s does not see the others, the primary and ${1:-1} healthy replica(s) (see $D/s*/sentinel.log)"
	done
}

rs_primary_port() {
	set -- $RS_SENTINELS
	rs_exec redis-cli -p "$1" SENTINEL get-master-addr-by-name poprelay 2>/dev/null | tail -1
}
