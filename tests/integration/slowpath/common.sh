# Helpers for the slowpath integration tests (source after tests/lib.sh).
# Everything carries the "sp" prefix; every resource is registered with pr_on_exit.

SP_DIR=$PR_ROOT/tests/integration/slowpath

# sp_certs DIR: a test CA and a server certificate for 127.0.0.1 (and two client certs).
sp_certs() {
	local d=$1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sp-test-ca" \
		-keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null || pr_fail "openssl CA"
	local n
	for n in server pop2; do
		openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$d/$n.key" \
			-out "$d/$n.csr" 2>/dev/null || pr_fail "openssl csr"
		printf 'subjectAltName=IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,IP:127.0.0.30,DNS:localhost%s\nextendedKeyUsage=serverAuth,clientAuth\n' \
			"${SP_ADDR:+,IP:$SP_ADDR}" >"$d/$n.ext"
		openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
			-days 2 -extfile "$d/$n.ext" -out "$d/$n.crt" 2>/dev/null || pr_fail "openssl sign"
	done
}

# sp_free_port: an unused TCP/UDP port on loopback.
sp_free_port() {
	python3 -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); p=s.getsockname()[1]
u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); u.bind(("127.0.0.1",p)); print(p)'
}

# sp_config DIR TLS_PORT PLAIN_PORT [extra [sip] lines...]: writes DIR/sp.conf. The
# slowpath's address is $SP_ADDR (default 127.0.0.1: listeners, Via/Contact, SDP relay).
sp_config() {
	local d=$1 tp=$2 pp=$3 a=${SP_ADDR:-127.0.0.1}; shift 3
	{
		echo "[global]"
		echo "realm = poprelay"
		echo "[redis]"
		echo "socket = $d/redis.sock"
		echo "[eal]"
		echo "; the dataplane's section: ignored by the slowpath"
		echo "lcores = 1"
		echo "[sip]"
		echo "pop = pop1"
		echo "tls_listen = $a:$tp"
		echo "listen = $a:$pp"
		echo "tls_cert = $d/server.crt"
		echo "tls_key = $d/server.key"
		echo "tls_ca = $d/ca.crt"
		echo "advertised_host = $a"
		echo "media_addr = $a"
		echo "media_ports = 31000-31999"
		local l
		for l in "$@"; do echo "$l"; done
	} >"$d/sp.conf"
}

# sp_start DIR: runs the slowpath on DIR/sp.conf (in namespace $SP_NETNS when set), log in
# DIR/sp.log; waits for its listener.
sp_start() {
	local d=$1
	${SP_NETNS:+ip netns exec "$SP_NETNS"} "$BUILD/poprelay-slowpath" -c "$d/sp.conf" -v >"$d/sp.log" 2>&1 &
	SP_PID=$!
	pr_on_exit "kill $SP_PID 2>/dev/null; wait $SP_PID 2>/dev/null"
	local i
	for i in $(seq 50); do
		grep -q "listening:" "$d/sp.log" 2>/dev/null && return 0
		kill -0 $SP_PID 2>/dev/null || { cat "$d/sp.log" >&2; pr_fail "slowpath exited at start"; }
		sleep 0.1
	done
	cat "$d/sp.log" >&2
	pr_fail "slowpath did not start"
}

# sp_user_add DIR NAME PASSWORD: creates the user with `poprelayctl user add` (password from
# a file); when poprelayctl is not built, writes the same keyspace-v1 record with redis-cli.
sp_user_add() {
	local d=$1 name=$2 pw=$3 now md5 sha
	if [ -x "$BUILD/poprelayctl" ]; then
		printf '%s\n' "$pw" >"$d/pw.$name"
		"$BUILD/poprelayctl" -c "$d/sp.conf" -s "$d/redis.sock" user add "$name" \
			--password-file "$d/pw.$name" >/dev/null || pr_fail "poprelayctl user add $name"
		rm -f "$d/pw.$name"
		return 0
	fi
	now=$(date +%s)
	md5=$(printf '%s' "$name:poprelay:$pw" | md5sum | cut -d' ' -f1)
	sha=$(printf '%s' "$name:poprelay:$pw" | sha256sum | cut -d' ' -f1)
	redis-cli -s "$d/redis.sock" HSET "pr:user:$name" v 1 name "$name" realm poprelay \
		ha1_md5 "$md5" ha1_sha256 "$sha" uri "sip:$name@poprelay" pop pop1 \
		created "$now" updated "$now" >/dev/null || pr_fail "user add $name"
	redis-cli -s "$d/redis.sock" SADD pr:users "$name" >/dev/null
}

# Test passwords (strong enough for poprelayctl's policy).
SP_PW_alice=tq7-Vortex-alice
SP_PW_bob=mz4-Quasar-bob
SP_PW_carol=pk2-Nebula-carol
