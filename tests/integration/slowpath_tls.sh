#!/usr/bin/env bash
# The slowpath's TLS listener (docs/slowpath.md "TLS"), driven with openssl s_client and a
# Python client holding 1,000 live flows (slowpath/tls_flows.py):
#   policy       forward-secret AEAD suites only by default: AES128-SHA (static RSA, CBC,
#                SHA-1), ECDHE-RSA-AES128-SHA (CBC) and DHE suites refused; ECDHE-RSA with
#                AES-GCM and CHACHA20-POLY1305 accepted; TLS 1.1 refused, TLS 1.3 accepted;
#                ECDHE-ECDSA once the certificate is an ECDSA one
#   resumption   s_client -sess_out then -sess_in: "Reused" over TLS 1.2 and 1.3; a ticket
#                still resumes after a reload (the ticket keys outlive the contexts) and after
#                one key rotation, not after two
#   reload       1,000 live flows; the certificate and key files swapped; SIGHUP: new
#                handshakes present the new certificate, every old flow still answers an
#                OPTIONS; the same through `poprelayctl tls reload`; a key that does not
#                match and a key that is not PEM: refused (the log names the file), the
#                certificate in force stays, the flows stay, tls_reload_failed counts
#   config       --check-config refuses an unknown suite name naming the key
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
[ -x "$BUILD/poprelay-slowpath" ] || pr_fail "build $BUILD/poprelay-slowpath first"
[ -x "$BUILD/poprelayctl" ] || pr_fail "build $BUILD/poprelayctl first"
D=$(mktemp -d /tmp/sp-tls.XXXXXX)
pr_on_exit "rm -rf '$D'"
pr_redis_start "$D"
sp_certs "$D"
TP=$(sp_free_port)
PP=$(sp_free_port)
NFLOWS=${SP_TLS_FLOWS:-1000}
# the flows' OPTIONS come from a few addresses at once: no rate limit in the way
sp_config "$D" "$TP" "$PP" "rate_limit_rps = 0" "tls_ticket_rotate_s = 4"
sp_start "$D"
printf '[redis]\nsocket = %s\n[sip]\npop = pop1\n' "$D/redis.sock" >"$D/ctl.conf"
CTL="$BUILD/poprelayctl -c $D/ctl.conf"

# sc ARGS...: one s_client handshake (stdin held open a moment so TLS 1.3 tickets arrive)
sc() {
	sleep 0.5 | timeout 10 openssl s_client -connect 127.0.0.1:$TP -CAfile "$D/ca.crt" \
		-verify_return_error "$@" 2>&1
}
# fp FILE: the certificate's SHA-256 fingerprint, hex without colons
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g'; }
# served_fp: the fingerprint of the certificate a new handshake presents
served_fp() {
	sc -tls1_3 </dev/null | openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//; s/://g'
}
spstat() { redis-cli -s "$D/redis.sock" HGET pr:stats:slowpath:pop1:$(hostname) "$1"; }
# newcert NAME rsa|ec: a certificate for 127.0.0.1 signed by the test CA
newcert() {
	local n=$1 alg=$2
	if [ "$alg" = ec ]; then
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
			-keyout "$D/$n.key" -out "$D/$n.csr" 2>/dev/null || pr_fail "openssl csr $n"
	else
		openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
			-keyout "$D/$n.key" -out "$D/$n.csr" 2>/dev/null || pr_fail "openssl csr $n"
	fi
	openssl x509 -req -in "$D/$n.csr" -CA "$D/ca.crt" -CAkey "$D/ca.key" -CAcreateserial \
		-days 2 -extfile "$D/server.ext" -out "$D/$n.crt" 2>/dev/null || pr_fail "openssl sign $n"
}

pr_log "policy: only forward-secret AEAD suites over TLS 1.2, and TLS 1.3"
for c in AES128-SHA AES256-GCM-SHA384 ECDHE-RSA-AES128-SHA ECDHE-RSA-AES128-SHA256 \
	DHE-RSA-AES128-GCM-SHA256; do
	out=$(sc -tls1_2 -cipher "$c:@SECLEVEL=0")
	! grep -q "Cipher is $c" <<<"$out" || pr_fail "TLS 1.2 $c accepted"
	grep -q "alert handshake failure" <<<"$out" || { echo "$out" >&2; pr_fail "$c: no handshake failure alert"; }
	echo "ok: $c refused"
done
for c in ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305; do
	out=$(sc -tls1_2 -cipher "$c")
	grep -q "New, TLSv1.2, Cipher is $c" <<<"$out" || { echo "$out" >&2; pr_fail "TLS 1.2 $c not accepted"; }
	echo "ok: $c accepted"
done
# with no -cipher, the server's choice among a client's defaults is ECDHE + GCM
out=$(sc -tls1_2)
grep -q "New, TLSv1.2, Cipher is ECDHE-RSA-AES..*-GCM-SHA" <<<"$out" || { echo "$out" >&2; pr_fail "default TLS 1.2 choice"; }
out=$(sc -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0')
grep -q "alert protocol version" <<<"$out" || { echo "$out" >&2; pr_fail "TLS 1.1 not refused"; }
echo "ok: TLS 1.1 refused"
for s in TLS_AES_128_GCM_SHA256 TLS_CHACHA20_POLY1305_SHA256; do
	out=$(sc -tls1_3 -ciphersuites "$s")
	grep -q "New, TLSv1.3, Cipher is $s" <<<"$out" || { echo "$out" >&2; pr_fail "TLS 1.3 $s not accepted"; }
	echo "ok: TLS 1.3 $s accepted"
done

pr_log "resumption with session tickets"
for v in 1_2 1_3; do
	sc -tls$v -sess_out "$D/sess$v" >"$D/first$v.log"
	grep -q "^New, " "$D/first$v.log" || { cat "$D/first$v.log" >&2; pr_fail "TLS $v first handshake"; }
	out=$(sc -tls$v -sess_in "$D/sess$v")
	grep -q "^Reused, TLSv${v/_/.}" <<<"$out" || { echo "$out" >&2; pr_fail "TLS $v session not reused"; }
	echo "ok: TLS ${v/_/.} session resumed"
done

pr_log "reload under $NFLOWS live flows: SIGHUP"
FP1=$(fp "$D/server.crt")
[ "$(served_fp)" = "$FP1" ] || pr_fail "the served certificate is not server.crt"
coproc FLOWS { exec timeout 600 python3 "$SP_DIR/tls_flows.py" "$TP" "$D/ca.crt" "$NFLOWS" 2>"$D/flows.err"; }
pr_on_exit "kill $FLOWS_PID 2>/dev/null"
flows() { # CMD: one answer line of tls_flows.py
	local line
	echo "$1" >&"${FLOWS[1]}"
	read -r -t 120 line <&"${FLOWS[0]}" || { cat "$D/flows.err" >&2; pr_fail "tls_flows.py: no answer to $1"; }
	echo "$line"
}
read -r -t 300 line <&"${FLOWS[0]}" || { cat "$D/flows.err" >&2; tail "$D/sp.log" >&2; pr_fail "tls_flows.py did not open its flows"; }
[ "$line" = "open $NFLOWS" ] || pr_fail "tls_flows.py: $line"
r=$(flows check)
[ "$r" = "ok $NFLOWS $FP1" ] || pr_fail "before the reload: $r"
pr_wait_for 3 bash -c "[ \"\$(redis-cli -s $D/redis.sock HGET pr:stats:slowpath:pop1:$(hostname) tls_open)\" -ge $NFLOWS ]" ||
	pr_fail "tls_open $(spstat tls_open) < $NFLOWS"
echo "ok: $NFLOWS flows up, all answer"
newcert ec2 ec
FP2=$(fp "$D/ec2.crt")
cat "$D/ec2.crt" >"$D/server.crt"
cat "$D/ec2.key" >"$D/server.key"
sc -tls1_2 -sess_out "$D/sess_reload" >/dev/null
kill -HUP $SP_PID
pr_wait_for 5 grep -q "TLS reload (SIGHUP): new handshakes use certificate" "$D/sp.log" ||
	{ tail "$D/sp.log" >&2; pr_fail "no reload logged after SIGHUP"; }
kill -0 $SP_PID || pr_fail "the slowpath exited on SIGHUP"
[ "$(served_fp)" = "$FP2" ] || pr_fail "after SIGHUP, new handshakes do not see the new certificate"
out=$(sc -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256)
grep -q "New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256" <<<"$out" || { echo "$out" >&2; pr_fail "ECDSA suite with the ECDSA certificate"; }
out=$(sc -tls1_2 -sess_in "$D/sess_reload")
grep -q "^Reused, TLSv1.2" <<<"$out" || { echo "$out" >&2; pr_fail "a ticket from before the reload does not resume"; }
r=$(flows check)
[ "$r" = "ok $NFLOWS $FP1" ] || pr_fail "after SIGHUP the old flows: $r"
pr_wait_for 3 bash -c "[ \"\$(redis-cli -s $D/redis.sock HGET pr:stats:slowpath:pop1:$(hostname) tls_reloads)\" = 1 ]" ||
	pr_fail "tls_reloads $(spstat tls_reloads), expected 1"
echo "ok: SIGHUP: new certificate for new handshakes, $NFLOWS old flows all up and answering"

pr_log "reload through poprelayctl"
newcert rsa3 rsa
FP3=$(fp "$D/rsa3.crt")
cat "$D/rsa3.crt" >"$D/server.crt"
cat "$D/rsa3.key" >"$D/server.key"
out=$($CTL tls reload 2>&1) || pr_fail "poprelayctl tls reload: $out"
grep -q "^reloaded" <<<"$out" || pr_fail "poprelayctl tls reload said: $out"
grep -q "TLS reload (poprelayctl): new handshakes use certificate" "$D/sp.log" || pr_fail "no reload (poprelayctl) logged"
[ "$(served_fp)" = "$FP3" ] || pr_fail "after poprelayctl tls reload, new handshakes do not see the new certificate"
r=$(flows check)
[ "$r" = "ok $NFLOWS $FP1" ] || pr_fail "after poprelayctl tls reload the old flows: $r"
[ "$(spstat tls_reloads)" = 2 ] || pr_fail "tls_reloads $(spstat tls_reloads), expected 2"
redis-cli -s "$D/redis.sock" XREVRANGE pr:audit + - COUNT 5 | grep -q "tls.reload" ||
	pr_fail "no tls.reload audit entry"
echo "ok: poprelayctl tls reload"

pr_log "a bad key: refused, the certificate in force stays"
cp "$D/server.key" "$D/good.key"
cat "$D/pop2.key" >"$D/server.key" # a valid key, not the certificate's
kill -HUP $SP_PID
pr_wait_for 5 grep -q "TLS reload (SIGHUP) refused" "$D/sp.log" || pr_fail "mismatched key: no refusal logged"
grep "TLS reload (SIGHUP) refused" "$D/sp.log" | grep -q "\[sip\] tls_key: $D/server.key does not match" ||
	{ grep "refused" "$D/sp.log" >&2; pr_fail "the refusal does not name the key file"; }
[ "$(served_fp)" = "$FP3" ] || pr_fail "after a refused reload the certificate in force changed"
echo "not a PEM key" >"$D/server.key"
out=$($CTL tls reload 2>&1)
rc=$?
[ $rc = 1 ] || pr_fail "poprelayctl tls reload with a broken key: exit $rc ($out)"
grep -q "refused the new certificate or key" <<<"$out" || pr_fail "poprelayctl said: $out"
grep "TLS reload (poprelayctl) refused" "$D/sp.log" | grep -q "\[sip\] tls_key: cannot load $D/server.key" ||
	{ grep "refused" "$D/sp.log" >&2; pr_fail "the refusal does not name the unreadable key file"; }
[ "$(served_fp)" = "$FP3" ] || pr_fail "after a refused reload the certificate in force changed"
r=$(flows check)
[ "$r" = "ok $NFLOWS $FP1" ] || pr_fail "after the refused reloads the old flows: $r"
pr_wait_for 3 bash -c "[ \"\$(redis-cli -s $D/redis.sock HGET pr:stats:slowpath:pop1:$(hostname) tls_reload_failed)\" = 2 ]" ||
	pr_fail "tls_reload_failed $(spstat tls_reload_failed), expected 2"
[ "$(spstat tls_reloads)" = 2 ] || pr_fail "tls_reloads $(spstat tls_reloads) after refusals"
cp "$D/good.key" "$D/server.key"
echo quit >&"${FLOWS[1]}"
wait $FLOWS_PID 2>/dev/null
echo "ok: broken keys refused, logged with the file, counted; certificate and flows kept"

pr_log "ticket key rotation: a ticket resumes across one rotation, not two"
rot() { grep -c "session ticket key rotated" "$D/sp.log"; }
n0=$(rot)
sc -tls1_2 -sess_out "$D/sess_rot" >/dev/null
pr_wait_for 10 bash -c "[ \$(grep -c 'session ticket key rotated' $D/sp.log) -ge $((n0 + 1)) ]" || pr_fail "no rotation"
out=$(sc -tls1_2 -sess_in "$D/sess_rot")
grep -q "^Reused, TLSv1.2" <<<"$out" || { echo "$out" >&2; pr_fail "not reused after one rotation"; }
pr_wait_for 10 bash -c "[ \$(grep -c 'session ticket key rotated' $D/sp.log) -ge $((n0 + 2)) ]" || pr_fail "no second rotation"
out=$(sc -tls1_2 -sess_in "$D/sess_rot")
grep -q "^New, TLSv1.2" <<<"$out" || { echo "$out" >&2; pr_fail "a ticket two rotations old still resumes"; }
echo "ok: ticket keys rotate (current and previous accepted)"

pr_log "configuration: unknown suite names refused naming the key"
sp_config "$D" "$TP" "$PP" "tls_ciphers = ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA257"
out=$("$BUILD/poprelay-slowpath" -c "$D/sp.conf" --check-config 2>&1)
[ $? = 2 ] || pr_fail "--check-config accepted an unknown TLS 1.2 suite: $out"
grep -q '\[sip\] tls_ciphers: unknown TLS 1.2 suite "ECDHE-RSA-AES128-GCM-SHA257"' <<<"$out" || pr_fail "said: $out"
sp_config "$D" "$TP" "$PP" "tls_ciphersuites = TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA512"
out=$("$BUILD/poprelay-slowpath" -c "$D/sp.conf" --check-config 2>&1)
[ $? = 2 ] || pr_fail "--check-config accepted an unknown TLS 1.3 suite: $out"
grep -q '\[sip\] tls_ciphersuites: unknown TLS 1.3 suite "TLS_AES_128_CCM_SHA512"' <<<"$out" || pr_fail "said: $out"
echo "ok: --check-config names the key"
echo "PASS"
