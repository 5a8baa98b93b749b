#!/usr/bin/env bash
# What `make run` promises in README.md: the appliance comes up on virtual ports, answers
# ping from the client namespace over IPv4 and IPv6, poprelayctl status shows it, the
# slowpath completes a verified TLS handshake, a baresip device registers over TLS, coturn's
# turnutils_uclient relays through the TURN relay with no loss, a call between two baresip
# devices carries SRTP through the dataplane (live session figures, then the CDR's), and
# Ctrl-C (SIGINT) stops every process and removes everything it created.
source "$(dirname "$0")/../lib.sh"
pr_need_root
for ns in pr-pop pr-client; do
	ip netns list | grep -qw "$ns" && pr_skip "namespace $ns exists: is a 'make run' going on?"
done
log=$(pr_tmpdir)/run.log
setsid "$PR_ROOT/tests/run-appliance.sh" "$BUILD" >"$log" 2>&1 &
pid=$!
pr_on_exit "kill -INT -$pid 2>/dev/null; sleep 2; kill -KILL -$pid 2>/dev/null; ip netns del pr-pop; ip netns del pr-client"
pr_wait_for 120 grep -q "The appliance is running" "$log" || { cat "$log"; pr_fail "make run did not come up"; }
cat "$log"
pings=$(sed -n '/== ping from pr-client/,/== poprelayctl status/p' "$log")
[ "$(grep -c ' 0% packet loss' <<<"$pings")" = 2 ] || pr_fail "ping over IPv4 and IPv6 from pr-client lost packets"
grep -qi "dataplane" <(sed -n '/== poprelayctl status/,/== poprelayctl stats/p' "$log") ||
	pr_fail "poprelayctl status printed nothing about the dataplane"
grep -q "Verify return code: 0 (ok)" "$log" || pr_fail "no verified TLS handshake with the slowpath"
grep -Eq "^registration +sip:alice.* via tls from 192\.0\.2\.20" "$log" ||
	pr_fail "alice (baresip in pr-client) did not register over TLS"
[ "$(grep -c "Total lost packets 0 (0.000000%)" "$log")" -ge 3 ] ||
	pr_fail "TURN relaying through the dataplane (over UDP, TCP and TLS) lost packets"
grep -Eq "^[0-9a-f]{16} +alice +udp +198\.51\.100\.20:" "$log" || pr_fail "poprelayctl turn allocations shows no allocation of alice"
# the demo call: a live session with SRTP on both legs and figures, then a CDR with them
call=$(sed -n '/== a call/,/== poprelayctl user list/p' "$log")
grep -Eq '^[0-9a-f]{32}-0 +audio .* carol +198\.51\.100\.10:[0-9]+ +198\.51\.100\.20:[0-9]+ +AES_CM_128_HMAC_SHA1_80 +[1-9][0-9]*/[1-9][0-9]* .* bob +198\.51\.100\.10:' <<<"$call" ||
	pr_fail "poprelayctl session list showed no live SRTP session with figures during the call"
! grep -Eiq 'key_(rx|tx)|inline:' <<<"$call" || pr_fail "a key in poprelayctl session output"
for leg in caller callee; do
	grep -Eq "^  $leg: AES_CM_128_HMAC_SHA1_80, rx [1-9][0-9]{2,} packets, tx [1-9][0-9]{2,} packets" <<<"$call" ||
		pr_fail "the demo call's CDR lacks the $leg's media figures"
done
kill -0 "$pid" 2>/dev/null || pr_fail "make run exited before Ctrl-C"

pr_log "Ctrl-C"
kill -INT -- -"$pid"
pr_wait_for 30 sh -c "! kill -0 $pid 2>/dev/null" || pr_fail "make run did not stop on Ctrl-C"
! ip netns list | grep -qE '^pr-(pop|client)\b' || pr_fail "namespaces left behind: $(ip netns list)"
! pgrep -f "poprelay-(dataplane|slowpath|turnfront) -c .*/poprelay.conf" >/dev/null || pr_fail "a process was left running"
pr_log "make_run: pass"
