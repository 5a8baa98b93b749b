#!/usr/bin/env bash
# parallel: hugepages heavy slow
# What `make run` promises in README.md: the appliance comes up on virtual ports, answers
# ping from the client namespace over IPv4 and IPv6, poprelayctl status shows it, the
# slowpath completes a verified TLS handshake, a baresip device registers over TLS, coturn's
# turnutils_uclient relays through the TURN relay with no loss, a call between two baresip
# devices carries SRTP through the dataplane (live session figures, then the CDR's), the
# WebRTC demo (headless Chromium on examples/webrtc/ in pr-client registers over WSS and
# calls bob's device: answered, DTLS-SRTP on the browser's leg, SDES on bob's, packets both
# ways on both), the printed command that opens the page works (run headless, the page
# registers), and Ctrl-C (SIGINT) stops every process and removes everything it created.
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
# the WebRTC demo: dave's browser calls bob's device
web=$(sed -n '/== WebRTC/,/== poprelayctl user list/p' "$log")
[ -n "$web" ] || pr_fail "make run showed no WebRTC call"
grep -Eq '^-- dave registered over WSS from the page: registration .* via wss from 192\.0\.2\.20:' <<<"$web" ||
	pr_fail "the demo page in Chromium did not register dave over WSS"
grep -Eq '^[0-9a-f]{32}-0 +audio .* dave +198\.51\.100\.10:[0-9]+ +198\.51\.100\.20:[0-9]+ +AES_CM_128_HMAC_SHA1_80 +[1-9][0-9]*/[1-9][0-9]* .* bob +198\.51\.100\.10:[0-9]+ +198\.51\.100\.20:[0-9]+ +AES_CM_128_HMAC_SHA1_80 +[1-9][0-9]*/[1-9][0-9]* ' <<<"$web" ||
	pr_fail "poprelayctl session list showed no live WebRTC session with packets both ways on both legs"
show_a=$(sed -n '/^leg a/,/^leg b/p' <<<"$web")
show_b=$(sed -n '/^leg b/,/^-- the page/p' <<<"$web")
grep -Eq '^  keying +dtls ' <<<"$show_a" && grep -Eq '^  dtls +keyed \(' <<<"$show_a" &&
	grep -Eq '^  ice +nominated ' <<<"$show_a" || pr_fail "session show: the browser's leg is not keyed by DTLS-SRTP"
grep -Eq '^  keying +sdes ' <<<"$show_b" || pr_fail "session show: bob's leg is not keyed by SDES"
grep -Eq '^call ended \(Terminated\), DTLS connected, SRTP_AES128_CM_HMAC_SHA1_80, .* packets sent [1-9][0-9]{2,}, received [1-9][0-9]{2,}, heard 44[0-9] Hz' <<<"$web" ||
	pr_fail "the page's leg: no DTLS-SRTP call with packets both ways hearing bob's 440 Hz"
grep -Eq '^[0-9a-f]{32} dave -> bob, [0-9]+ s, end bye-caller' <<<"$web" || pr_fail "no CDR of dave's call answered and hung up by the page"
grep -Eq '^  caller: keying dtls, AES_CM_128_HMAC_SHA1_80, rx [1-9][0-9]{2,} packets, tx [1-9][0-9]{2,} packets' <<<"$web" &&
	grep -Eq '^  callee: keying sdes, AES_CM_128_HMAC_SHA1_80, rx [1-9][0-9]{2,} packets, tx [1-9][0-9]{2,} packets' <<<"$web" ||
	pr_fail "the WebRTC call's CDR lacks dtls/sdes keying or packets both ways"
! grep -Eiq 'key_(rx|tx)|inline:|password' <<<"$web" || pr_fail "a key in the WebRTC demo's output"
# the page's anchor figures (serve.js runs poprelayctl) and the printed command that opens it:
# run headless, with ?register the page registers dave over WSS at once
ip netns exec pr-client curl -sf -m 5 http://127.0.0.1:8080/figures | python3 -c 'import json,sys; json.load(sys.stdin)' ||
	pr_fail "the demo page's /figures gave no JSON"
open=$(sed -n '/^from a root shell of a desktop session/{n;s/^  //p}' "$log")
[[ $open == "ip netns exec pr-client chromium "*" http://127.0.0.1:8080/" ]] || pr_fail "make run printed no command opening the page: '$open'"
dom=$(timeout 60 $open?register --headless --disable-gpu --virtual-time-budget=10000 --dump-dom 2>/dev/null)
grep -q '<span class="state" id="reg">registered as dave</span>' <<<"$dom" ||
	pr_fail "the printed command's page (headless) did not register dave: $(grep -E 'id="reg"' <<<"$dom")"
kill -0 "$pid" 2>/dev/null || pr_fail "make run exited before Ctrl-C"
run_dir=$(sed -n 's|.*configuration: \(/.*\)/poprelay\.conf .*|\1|p' "$log")
[ -d "$run_dir" ] || pr_fail "no run directory in make run's output"

pr_log "Ctrl-C"
kill -INT -- -"$pid"
pr_wait_for 30 sh -c "! kill -0 $pid 2>/dev/null" || pr_fail "make run did not stop on Ctrl-C"
! ip netns list | grep -qE '^pr-(pop|client)\b' || pr_fail "namespaces left behind: $(ip netns list)"
! pgrep -f "poprelay-(dataplane|slowpath|turnfront|dtls) -c $run_dir/poprelay.conf" >/dev/null || pr_fail "a process was left running"
! pgrep -f "examples/webrtc/serve.js 127.0.0.1:8080 $run_dir/webrtc.json" >/dev/null ||
	pr_fail "the demo page's server was left running"
pr_log "make_run: pass"
