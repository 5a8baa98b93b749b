#!/usr/bin/env bash
# Every refusal of the slowpath's start that the configuration causes has a case here: the
# file is refused by --check-config AND by the start itself (exit 2 both times, before any
# connection to Redis), each message naming the file, the section and the key; a good file
# passes --check-config. Certificates from openssl; no Redis, no namespaces.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$PR_ROOT/tests/integration/slowpath/common.sh"
SP=$BUILD/poprelay-slowpath
[ -x "$SP" ] || pr_fail "$SP not built"
D=$(pr_tmpdir)
sp_certs "$D"
TP=$(sp_free_port)
PP=$(sp_free_port)
echo "not a certificate" >"$D/junk.pem"
: >"$D/empty.pass"
echo "s3cret" >"$D/good.pass"

# conf NAME [sip lines...]: the common test configuration (slowpath/common.sh) plus lines.
conf() {
	local name=$1
	shift
	sp_config "$D" "$TP" "$PP" "$@"
	mv "$D/sp.conf" "$D/$name.conf"
}

# run_sp NAME MODE [ARGS...]: the slowpath on $D/NAME.conf; exit status in $rc.
run_sp() {
	local name=$1 mode=$2
	shift 2
	rc=0
	timeout 20 "$SP" -c "$D/$name.conf" "$@" >"$D/$name.$mode.out" 2>&1 || rc=$?
}

# refuse NAME EXPECTED_WORDS...: --check-config and the start both refuse $D/NAME.conf.
refuse() {
	local name=$1 w mode out
	shift
	for mode in check start; do
		if [ $mode = check ]; then run_sp "$name" $mode --check-config; else run_sp "$name" $mode; fi
		out=$D/$name.$mode.out
		[ $rc -eq 2 ] || { cat "$out"; pr_fail "$name ($mode): exit $rc, expected 2 (a refused configuration)"; }
		grep -q "$D/$name.conf" "$out" || pr_fail "$name ($mode): message does not name the file: $(cat "$out")"
		for w in "$@"; do
			grep -qF -- "$w" "$out" || pr_fail "$name ($mode): message lacks '$w': $(cat "$out")"
		done
	done
	pr_log "ok: $name: $(grep -o 'configuration: .*' "$D/$name.check.out")"
}

# accept NAME: --check-config passes $D/NAME.conf and says so.
accept() {
	run_sp "$1" check --check-config
	[ $rc -eq 0 ] || { cat "$D/$1.check.out"; pr_fail "$1: --check-config refused a good file"; }
	grep -q "$D/$1.conf: ok" "$D/$1.check.out" || pr_fail "$1: no 'ok' line: $(cat "$D/$1.check.out")"
}

conf good
accept good
# TLS off and no peer PoPs: the certificate is not read by the start, nor by the check.
conf no_tls "tls_listen = 127.0.0.1:0" "tls_cert = $D/missing.crt"
accept no_tls
conf redis_password "redis_user = slowpath" "redis_password_file = $D/good.pass"
accept redis_password
if grep -q "s3cret" "$D"/*.out; then pr_fail "a password reached the output"; fi

# Redis under Sentinel: a [redis] section after the others (the parser takes it as well)
sentinel_conf() { # NAME LINES...
	local n=$1
	shift
	conf "$n"
	printf '[redis]\n' >>"$D/$n.conf"
	printf '%s\n' "$@" >>"$D/$n.conf"
}
sentinel_conf sentinels_ok "sentinels = 127.0.0.1:26379, [::1]:26380" "master_name = poprelay" "wait_replicas = 1"
accept sentinels_ok
sentinel_conf sentinels_bad "sentinels = 127.0.0.1:26379, nohost" "master_name = poprelay"
refuse sentinels_bad "[redis] sentinels" "'nohost' is not host:port"
sentinel_conf master_name_missing "sentinels = 127.0.0.1:26379"
refuse master_name_missing "[redis] master_name" "required with sentinels"
sentinel_conf wait_replicas_range "wait_replicas = 17"
refuse wait_replicas_range "[redis]" "'wait_replicas'"

# Syntax and ranges (the parser).
conf unknown_key "tls_lisen = 127.0.0.1:$TP"
refuse unknown_key "[sip]" "unknown key 'tls_lisen'"
conf listen_no_port "tls_listen = 127.0.0.1"
refuse listen_no_port "[sip]" "'tls_listen'"
conf bad_verify "tls_verify_client = sometimes"
refuse bad_verify "[sip]" "'tls_verify_client'"
conf media_ports_order "media_ports = 32000-31000"
refuse media_ports_order "[sip]" "'media_ports'"
conf keepalive_range "keepalive_s = 5"
refuse keepalive_range "[sip]" "'keepalive_s'"
conf expires_order "reg_min_expires_s = 600" "reg_max_expires_s = 300"
refuse expires_order "[sip]" "reg_min_expires_s > reg_max_expires_s"
conf digest_algs "digest_algorithms = SHA-512"
refuse digest_algs "[sip]" "'digest_algorithms'"
conf peer_no_port "peer_pops = pop2=127.0.0.2"
refuse peer_no_port "[sip]" "'peer_pops'"
sed -i 's/^realm = .*/realm =/' "$D/good.conf" && cp "$D/good.conf" "$D/empty_realm.conf"
conf good
refuse empty_realm "[global]" "'realm'"

# Listeners: an IP address of this host, and not the two TCP listeners on one port.
conf tls_listen_name "tls_listen = localhost:$TP"
refuse tls_listen_name "[sip] tls_listen" '"localhost"' "IPv4 or IPv6 address"
conf listen_not_ours "listen = 192.0.2.77:$PP"
refuse listen_not_ours "[sip] listen" "192.0.2.77" "not an address of this host"
# [sip] freebind: the same address accepted (a service address keepalived brings later)
conf listen_freebind "listen = 192.0.2.77:$PP" "freebind = yes"
accept listen_freebind
conf freebind_bad "freebind = maybe"
refuse freebind_bad "[sip]" "'freebind'" "yes or no"
conf same_port "listen = 0.0.0.0:$TP"
refuse same_port "[sip] listen" "[sip] tls_listen"

# SIP over WebSocket: its listener, origins, limits; its TLS needs the certificate too.
WP=$(sp_free_port)
conf wss_good "wss_listen = 127.0.0.1:$WP" "ws_origins = https://app.example.com, http://localhost:8080"
accept wss_good
conf wss_no_origins "wss_listen = 127.0.0.1:$WP"
refuse wss_no_origins "[sip] ws_origins" "wss_listen"
conf wss_bad_origin "wss_listen = 127.0.0.1:$WP" "ws_origins = app.example.com"
refuse wss_bad_origin "[sip]" "'ws_origins'"
conf wss_origin_path "wss_listen = 127.0.0.1:$WP" "ws_origins = https://app.example.com/page"
refuse wss_origin_path "[sip]" "'ws_origins'"
conf wss_same_port "wss_listen = 127.0.0.1:$TP" "ws_origins = https://a.example"
refuse wss_same_port "[sip] wss_listen" "[sip] tls_listen"
conf wss_not_ours "wss_listen = 192.0.2.77:$WP" "ws_origins = https://a.example"
refuse wss_not_ours "[sip] wss_listen" "not an address of this host"
conf ws_max "ws_max_message = 100"
refuse ws_max "[sip]" "'ws_max_message'"
conf ws_idle "ws_ping_s = 60" "ws_idle_s = 60"
refuse ws_idle "[sip] ws_idle_s" "ws_ping_s"
conf wss_cert_missing "tls_listen = 127.0.0.1:0" "tls_cert = $D/missing.crt" "wss_listen = 127.0.0.1:$WP" "ws_origins = https://a.example"
refuse wss_cert_missing "[sip] tls_cert" "$D/missing.crt"

# TLS: certificate, key, that they match, CA (for the listener and for peer PoPs alike).
conf cert_missing "tls_cert = $D/missing.crt"
refuse cert_missing "[sip] tls_cert" "$D/missing.crt"
conf cert_junk "tls_cert = $D/junk.pem"
refuse cert_junk "[sip] tls_cert" "$D/junk.pem"
conf key_missing "tls_key = $D/missing.key"
refuse key_missing "[sip] tls_key" "$D/missing.key"
conf key_mismatch "tls_key = $D/pop2.key"
refuse key_mismatch "[sip] tls_key" "does not match" "$D/server.crt"
conf ca_junk "tls_ca = $D/junk.pem"
refuse ca_junk "[sip] tls_ca" "$D/junk.pem"
conf peers_cert_missing "tls_listen = 127.0.0.1:0" "tls_cert = $D/missing.crt" "peer_pops = pop2=127.0.0.2:5061"
refuse peers_cert_missing "[sip] tls_cert" "$D/missing.crt"

# Redis credentials: the file the start reads the password from.
conf redis_pass_missing "redis_user = slowpath" "redis_password_file = $D/missing.pass"
refuse redis_pass_missing "[sip] redis_password_file" "$D/missing.pass"
conf redis_pass_empty "redis_user = slowpath" "redis_password_file = $D/empty.pass"
refuse redis_pass_empty "[sip] redis_password_file" "empty"
conf good
sed -e "s|^socket = .*|&\nuser = slowpath\npassword_file = $D/missing.pass|" "$D/good.conf" >"$D/redis_section_pass.conf"
refuse redis_section_pass "[redis] password_file" "$D/missing.pass"

# A file that is not there.
rc=0
"$SP" -c "$D/nonexistent.conf" --check-config >"$D/nx.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || pr_fail "a missing file passed --check-config"
grep -q "$D/nonexistent.conf" "$D/nx.out" || pr_fail "missing file message: $(cat "$D/nx.out")"
pr_log PASS
