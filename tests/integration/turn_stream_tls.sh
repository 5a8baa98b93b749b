#!/usr/bin/env bash
# parallel: slow
# poprelay-turnfront's TLS listener, driven with openssl s_client and coturn's client, in the
# world of turn_stream.sh (turn/env.sh, namespaces tt-pop and tt-cli, the front on
# 192.0.2.10:5349 with an RSA certificate, so that static-RSA suites would be possible if the
# policy let them through):
#   unit    the front as images/poprelay-turnfront.service runs it (not root, only
#           CAP_NET_BIND_SERVICE: TLS on 443 too) cannot reach the dataplane's socket until
#           the grant of images/poprelay-dataplane.service's ExecStartPost, then attaches
#   policy  TLS 1.1 refused by the server (the client allows it: SECLEVEL=0); TLS 1.2 with
#           AES128-SHA (static RSA, CBC) and ECDHE-RSA-AES128-SHA (CBC) refused; TLS 1.2
#           ECDHE-RSA with AES-GCM and TLS 1.3 accepted; each refusal counted (stream_tls_failed)
#   ALPN    "stun.turn" accepted and selected, "h2" alone refused (no_application_protocol),
#           no ALPN accepted (RFC 7443)
#   reload  certificate and key files replaced, SIGHUP: a new handshake sees the new
#           certificate; a turnutils_uclient -t -S run that spans the reload loses nothing;
#           a key that does not match and a key that is not PEM: the log names tls_key and
#           the cause, the certificate in force stays, and TLS clients are still served; a
#           certificate that is not PEM or is missing: the same, naming tls_cert
#   metrics poprelay-exporter's poprelay_turn_stream_* equal the telemetry's stream_* fields;
#           once the front stops, its figures are left out and attached reads 0
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/turn/env.sh"
TF=$BUILD/poprelay-turnfront
[ -x "$TF" ] || pr_fail "$TF not built"
PW=Stream-tls-42-heron
SRV=192.0.2.10

te_up tt
pr_veth tt-pop tt1p tt-cli tt1c
ip -n tt-pop addr add $SRV/24 dev tt1p
ip -n tt-cli addr add 192.0.2.20/24 dev tt1c
printf '%s\n' "$PW" | te_ctl user add alice >/dev/null || pr_fail "poprelayctl user add"

# newcert NAME: a self-signed RSA certificate NAME.crt, CN=NAME.tt.example, key NAME.key
newcert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1.tt.example" \
		-keyout "$TE_DIR/$1.key" -out "$TE_DIR/$1.crt" 2>/dev/null || pr_fail "openssl req $1"
}
# fp FILE: the certificate's SHA-256 fingerprint
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'; }
# sc ARGS...: one s_client handshake from tt-cli (stdin held open a moment so that TLS 1.3's
# tickets arrive and the server's answer is read)
sc() {
	sleep 0.5 | timeout 10 ip netns exec tt-cli openssl s_client -connect $SRV:5349 "$@" 2>&1 || true
}
# served_fp: the fingerprint of the certificate a new handshake is shown
served_fp() {
	sc -tls1_3 | openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//'
}

newcert one
cp "$TE_DIR/one.crt" "$TE_DIR/tf.crt"
cp "$TE_DIR/one.key" "$TE_DIR/tf.key"
cat >>"$TE_DIR/dp.conf" <<CONF
[turn_front]
dataplane_socket = /var/run/dpdk/$TE_PREFIX/turn_front.sock
tcp_listen = $SRV:3478
tls_listen = $SRV:5349
tls_cert = $TE_DIR/tf.crt
tls_key = $TE_DIR/tf.key
CONF

pr_log "the front as its unit runs it: not root, CAP_NET_BIND_SERVICE only (TLS on 443 too)"
# images/poprelay-turnfront.service's user is poprelay; here nobody:nogroup, which must be
# able to read its configuration and certificate (nothing else in TE_DIR)
unit=$PR_ROOT/images/poprelay-turnfront.service
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
[ "$caps" = CAP_NET_BIND_SERVICE ] || pr_fail "the front's unit bounds its capabilities to '$caps'"
grep -q "^AmbientCapabilities=CAP_NET_BIND_SERVICE$" "$unit" || pr_fail "the front's unit does not grant CAP_NET_BIND_SERVICE"
grep -q "^User=poprelay$" "$unit" || pr_fail "the front's unit does not run as poprelay"
sed -i "s|^tls_listen = .*|tls_listen = $SRV:5349, $SRV:443|" "$TE_DIR/dp.conf"
chmod 0711 "$PR_TMP" "$TE_DIR"
chmod 0644 "$TE_DIR/dp.conf" "$TE_DIR/tf.crt" "$TE_DIR/tf.key"
ip netns exec tt-pop setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs \
	--bounding-set=-all,+net_bind_service --inh-caps=-all,+net_bind_service \
	--ambient-caps=-all,+net_bind_service "$TF" -c "$TE_DIR/dp.conf" >>"$TE_DIR/tf.log" 2>&1 &
tf_pid=$!
pr_on_exit "kill -9 $tf_pid 2>/dev/null"
attached() { [ "$(te_stat stream_front_attached)" = 1 ]; }
# EAL's runtime directory is root's, 0700: without the dataplane unit's grant, no way in
pr_wait_for 5 grep -q "turn_front.sock: Permission denied" "$TE_DIR/tf.log" ||
	{ cat "$TE_DIR/tf.log" >&2; pr_fail "the front as nobody: no 'Permission denied' on the dataplane socket"; }
! attached || pr_fail "the front attached as nobody without the dataplane unit's grant"
[ "$(awk '/^CapEff/{print $2}' /proc/$tf_pid/status)" = 0000000000000400 ] ||
	pr_fail "the front's effective capabilities: $(awk '/^CapEff/{print $2}' /proc/$tf_pid/status)"
# the dataplane unit's ExecStartPost, for this dataplane's prefix and nobody's group
grant=$(sed -n "s|^ExecStartPost=-+/bin/sh -c '\(.*\)'\$|\1|p" "$PR_ROOT/images/poprelay-dataplane.service")
[ -n "$grant" ] || pr_fail "the dataplane unit has no ExecStartPost for the front's socket"
grant=${grant//\/run\/dpdk\/poprelay//run/dpdk/$TE_PREFIX}
grant=${grant//chgrp poprelay/chgrp nogroup}
pr_on_exit "chgrp $(stat -c %g /run/dpdk) /run/dpdk; chmod $(stat -c %a /run/dpdk) /run/dpdk"
sh -c "$grant" || pr_fail "the dataplane unit's grant failed: $grant"
pr_wait_for 5 attached || { cat "$TE_DIR/tf.log" >&2; te_dump; pr_fail "the front did not attach to the dataplane after the grant"; }
out=$(sleep 0.5 | timeout 10 ip netns exec tt-cli openssl s_client -connect $SRV:443 -alpn stun.turn 2>&1 || true)
grep -q "^ALPN protocol: stun.turn" <<<"$out" || { echo "$out" >&2; pr_fail "no TLS on 443"; }
te_uclient tls443 ok -t -S -u alice -w "$PW" -e $TE_PEER -r 3480 -n 20 -l 200 -z 10 -c -p 443 $SRV
pr_log "ok: as nobody with CAP_NET_BIND_SERVICE only: refused the dataplane's socket until the grant, then attached; TLS on 443 relays"

pr_log "policy: TLS 1.2 with forward-secret AEAD suites, and TLS 1.3"
f0=$(te_stat stream_tls_failed)
out=$(sc -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0')
! grep -q "^New, TLS" <<<"$out" || pr_fail "TLS 1.1 accepted"
grep -q "alert protocol version" <<<"$out" || { echo "$out" >&2; pr_fail "TLS 1.1 not refused by the server"; }
pr_log "ok: TLS 1.1 refused (protocol_version alert)"
for c in AES128-SHA ECDHE-RSA-AES128-SHA; do
	out=$(sc -tls1_2 -cipher "$c:@SECLEVEL=0")
	! grep -q "Cipher is $c" <<<"$out" || pr_fail "TLS 1.2 $c accepted"
	grep -q "alert handshake failure" <<<"$out" || { echo "$out" >&2; pr_fail "TLS 1.2 $c: no handshake failure alert"; }
	pr_log "ok: TLS 1.2 $c refused"
done
for c in ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384; do
	out=$(sc -tls1_2 -cipher "$c")
	grep -q "^New, TLSv1.2, Cipher is $c" <<<"$out" || { echo "$out" >&2; pr_fail "TLS 1.2 $c not accepted"; }
	pr_log "ok: TLS 1.2 $c accepted"
done
out=$(sc -tls1_3)
grep -q "^New, TLSv1.3, Cipher is TLS_" <<<"$out" || { echo "$out" >&2; pr_fail "TLS 1.3 not accepted"; }
pr_log "ok: TLS 1.3 accepted ($(sed -n 's/^New, TLSv1.3, Cipher is //p' <<<"$out"))"

pr_log "ALPN (RFC 7443)"
out=$(sc -alpn stun.turn)
grep -q "^New, TLS" <<<"$out" || { echo "$out" >&2; pr_fail "ALPN stun.turn: handshake refused"; }
grep -q "^ALPN protocol: stun.turn" <<<"$out" || { echo "$out" >&2; pr_fail "ALPN stun.turn not selected"; }
out=$(sc -tls1_2 -alpn h2,stun.turn)
grep -q "^ALPN protocol: stun.turn" <<<"$out" || { echo "$out" >&2; pr_fail "ALPN stun.turn not selected among h2,stun.turn (TLS 1.2)"; }
pr_log "ok: ALPN stun.turn accepted and selected (TLS 1.3, and TLS 1.2 among h2)"
for v in tls1_2 tls1_3; do
	out=$(sc -$v -alpn h2)
	! grep -q "^New, TLS" <<<"$out" || { echo "$out" >&2; pr_fail "$v ALPN h2 accepted"; }
	grep -q "alert no application protocol" <<<"$out" || { echo "$out" >&2; pr_fail "$v ALPN h2: no no_application_protocol alert"; }
done
pr_log "ok: ALPN h2 refused (no_application_protocol)"
out=$(sc)
grep -q "^New, TLS" <<<"$out" || { echo "$out" >&2; pr_fail "no ALPN: handshake refused"; }
grep -q "^No ALPN negotiated" <<<"$out" || { echo "$out" >&2; pr_fail "no ALPN offered, yet one negotiated"; }
pr_log "ok: no ALPN offered: accepted"
# TLS 1.1, AES128-SHA, ECDHE-RSA-AES128-SHA and h2 twice: five refusals counted
pr_wait_for 3 sh -c "[ \"\$($TE_TEL $TE_PREFIX /poprelay/turn/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"/poprelay/turn/stats\"][\"stream_tls_failed\"])')\" -ge $((f0 + 5)) ]" ||
	{ te_dump; pr_fail "refused handshakes counted: $(($(te_stat stream_tls_failed) - f0)), expected 5"; }
pr_log "ok: $(($(te_stat stream_tls_failed) - f0)) refused handshakes counted (stream_tls_failed)"

pr_log "reload: SIGHUP under a live TLS client"
FP1=$(fp "$TE_DIR/one.crt")
[ "$(served_fp)" = "$FP1" ] || pr_fail "the served certificate is not tf.crt"
# -n 300 at 20 ms: 6 s of relaying over one TLS connection, with the reload in the middle
ip netns exec tt-cli timeout 60 turnutils_uclient -t -S -u alice -w "$PW" -e $TE_PEER -r 3480 \
	-n 300 -l 200 -z 20 -c -p 5349 $SRV >"$TE_DIR/uc-span.log" 2>&1 &
span=$!
pr_on_exit "kill $span 2>/dev/null"
pr_wait_for 10 sh -c "[ \"\$($TE_TEL $TE_PREFIX /poprelay/turn/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"/poprelay/turn/stats\"][\"allocations\"])')\" -ge 1 ]" ||
	{ te_dump; pr_fail "the spanning TLS client made no allocation"; }
newcert two
FP2=$(fp "$TE_DIR/two.crt")
cat "$TE_DIR/two.crt" >"$TE_DIR/tf.crt"
cat "$TE_DIR/two.key" >"$TE_DIR/tf.key"
kill -HUP $tf_pid
pr_wait_for 5 grep -q "SIGHUP: TLS certificate and key reloaded" "$TE_DIR/tf.log" ||
	{ tail "$TE_DIR/tf.log" >&2; pr_fail "no reload logged after SIGHUP"; }
kill -0 $tf_pid || pr_fail "the front exited on SIGHUP"
[ "$(served_fp)" = "$FP2" ] || pr_fail "after SIGHUP, a new handshake does not see the new certificate"
kill -0 $span 2>/dev/null || pr_fail "the spanning client ended before the reload: make it run longer"
rc=0
wait $span || rc=$?
lost=$(sed -n 's/.*Total lost packets \([0-9]*\).*/\1/p' "$TE_DIR/uc-span.log" | tail -1)
[ "$rc" = 0 ] && [ "${lost:-x}" = 0 ] || { tail -30 "$TE_DIR/uc-span.log" >&2; te_dump; pr_fail "the TLS client spanning the reload: rc=$rc lost=${lost:-?}"; }
pr_log "ok: SIGHUP: new handshakes see the new certificate; the connection opened before lost nothing ($(grep -o 'Total lost packets [0-9]*' "$TE_DIR/uc-span.log" | tail -1))"

pr_log "reload refused: a bad key keeps the certificate in force"
newcert three
newcert other
cat "$TE_DIR/three.crt" >"$TE_DIR/tf.crt"
for bad in mismatch notpem; do
	case $bad in
	mismatch) cat "$TE_DIR/other.key" >"$TE_DIR/tf.key" ;;
	notpem) echo "not a key" >"$TE_DIR/tf.key" ;;
	esac
	n0=$(grep -c "TLS reload failed" "$TE_DIR/tf.log" || true)
	kill -HUP $tf_pid
	pr_wait_for 5 sh -c "[ \$(grep -c 'TLS reload failed' '$TE_DIR/tf.log') -gt $n0 ]" ||
		{ tail "$TE_DIR/tf.log" >&2; pr_fail "$bad key: no failure logged after SIGHUP"; }
	line=$(grep "TLS reload failed" "$TE_DIR/tf.log" | tail -1)
	grep -q "tls_key: $TE_DIR/tf.key: " <<<"$line" || pr_fail "$bad key: the error does not name tls_key: $line"
	[ $bad != mismatch ] || grep -q "key values mismatch" <<<"$line" || pr_fail "$bad key: the error does not say why: $line"
	! grep -q "(null)\|unknown error" <<<"$line" || pr_fail "$bad key: the error does not say why: $line"
	! grep -q "not a key\|PRIVATE KEY" <<<"$line" || pr_fail "$bad key: the log shows the key's contents"
	kill -0 $tf_pid || pr_fail "the front exited on a bad key"
	[ "$(served_fp)" = "$FP2" ] || { sc -tls1_3 | head -20 >&2; tail -5 "$TE_DIR/tf.log" >&2; pr_fail "$bad key: the certificate in force changed"; }
	te_uclient after_$bad ok -t -S -u alice -w "$PW" -e $TE_PEER -r 3480 -n 20 -l 200 -z 10 -c -p 5349 $SRV
	pr_log "ok: $bad key refused: $line"
done
# a certificate that is not PEM, or missing: the error names tls_cert and its own cause,
# not one left over from the refusals above
cat "$TE_DIR/three.key" >"$TE_DIR/tf.key"
for bad in notpem missing; do
	case $bad in
	notpem) echo "not a certificate" >"$TE_DIR/tf.crt"; why="no start line" ;;
	missing) rm "$TE_DIR/tf.crt"; why="No such file or directory" ;;
	esac
	n0=$(grep -c "TLS reload failed" "$TE_DIR/tf.log" || true)
	kill -HUP $tf_pid
	pr_wait_for 5 sh -c "[ \$(grep -c 'TLS reload failed' '$TE_DIR/tf.log') -gt $n0 ]" ||
		{ tail "$TE_DIR/tf.log" >&2; pr_fail "$bad certificate: no failure logged after SIGHUP"; }
	line=$(grep "TLS reload failed" "$TE_DIR/tf.log" | tail -1)
	grep -q "tls_cert: $TE_DIR/tf.crt: $why" <<<"$line" || pr_fail "$bad certificate: the error does not name tls_cert and its cause ($why): $line"
	[ "$(served_fp)" = "$FP2" ] || pr_fail "$bad certificate: the certificate in force changed"
	pr_log "ok: $bad certificate refused: $line"
done
# put right, the next SIGHUP takes the new pair
install -m 0644 "$TE_DIR/three.crt" "$TE_DIR/tf.crt"
cat "$TE_DIR/three.key" >"$TE_DIR/tf.key"
kill -HUP $tf_pid
pr_wait_for 5 sh -c "[ \$(grep -c 'SIGHUP: TLS certificate and key reloaded' '$TE_DIR/tf.log') -ge 2 ]" ||
	{ tail "$TE_DIR/tf.log" >&2; pr_fail "no reload logged after the key was put right"; }
[ "$(served_fp)" = "$(fp "$TE_DIR/three.crt")" ] || pr_fail "a good pair after a bad one is not taken"
te_uclient after_fix ok -t -S -u alice -w "$PW" -e $TE_PEER -r 3480 -n 20 -l 200 -z 10 -c -p 5349 $SRV
pr_log "ok: a good pair after the bad ones is taken"

pr_log "metrics: poprelay-exporter shows the front's figures while it is attached"
# (promtool, as tests/integration/metrics.sh uses it, when installed)
ip netns exec tt-pop "$BUILD/poprelay-exporter" -c "$TE_DIR/dp.conf" -l 127.0.0.1:9469 2>"$TE_DIR/exp.log" &
pr_on_exit "kill $! 2>/dev/null"
scrape() {
	pr_wait_for 5 ip netns exec tt-pop curl -sf -o "$TE_DIR/m" http://127.0.0.1:9469/metrics ||
		{ cat "$TE_DIR/exp.log" >&2; pr_fail "the exporter does not answer"; }
	if command -v promtool >/dev/null; then
		promtool check metrics <"$TE_DIR/m" >"$TE_DIR/promtool.out" 2>&1 ||
			{ cat "$TE_DIR/promtool.out" >&2; pr_fail "promtool refuses the scrape"; }
	fi
}
m() { sed -n "s/^$1 //p" "$TE_DIR/m"; } # m 'NAME{LABELS}': the sample's value
scrape
for f in $(awk '/^# TYPE poprelay_turn_stream_/ {print $3}' "$TE_DIR/m"); do
	grep -q "\`$f\`" "$PR_ROOT/docs/metrics.md" || pr_fail "$f is not in docs/metrics.md"
done
[ "$(m poprelay_turn_stream_front_attached)" = 1 ] || pr_fail "poprelay_turn_stream_front_attached: '$(m poprelay_turn_stream_front_attached)'"
for pair in 'poprelay_turn_stream_connections_total{transport="tls"}=stream_tls_connections' \
	'poprelay_turn_stream_refused_total{reason="tls_handshake"}=stream_tls_failed' \
	'poprelay_turn_stream_messages_total{transport="tls",direction="from_client"}=stream_tls_rx_msgs' \
	'poprelay_turn_stream_bytes_total{transport="tls",direction="to_client"}=stream_tls_tx_bytes' \
	'poprelay_turn_stream_timeouts_total{timeout="first_message"}=stream_timeout_first' \
	'poprelay_turn_stream_records_total{direction="from_front"}=stream_from_front'; do
	metric=${pair%=*} field=${pair##*=}
	v=$(m "$metric")
	[ -n "$v" ] && [ "$v" = "$(te_stat "$field")" ] || pr_fail "$metric = '$v', telemetry $field = $(te_stat "$field")"
done
[ "$(m 'poprelay_turn_stream_connections_total{transport="tls"}')" -gt 10 ] || pr_fail "TLS connections not in the metrics"
kill $tf_pid
wait $tf_pid 2>/dev/null || true
pr_wait_for 5 sh -c "[ \"\$($TE_TEL $TE_PREFIX /poprelay/turn/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"/poprelay/turn/stats\"][\"stream_front_attached\"])')\" = 0 ]" ||
	pr_fail "the dataplane still counts the stopped front attached"
scrape
[ "$(m poprelay_turn_stream_front_attached)" = 0 ] || pr_fail "a stopped front still shows attached"
! grep -q "^poprelay_turn_stream_connections_total" "$TE_DIR/m" || pr_fail "a stopped front's figures still shown"
[ -n "$(m 'poprelay_turn_stream_dropped_total{reason="to_front_ring_full"}')" ] || pr_fail "the dataplane's channel figures gone with the front"
pr_log "ok: the exporter's poprelay_turn_stream_* match the telemetry; a stopped front's figures are left out"
