#!/usr/bin/env bash
# Two PoPs sharing one Redis: alice registers at pop1, bob at pop2; pop1 finds bob's
# binding at pop2 and reaches pop2's slowpath over mutual TLS; each PoP anchors its media.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
[ -x "$BUILD/poprelay-slowpath" ] || pr_fail "build $BUILD/poprelay-slowpath first"
D=$(mktemp -d /tmp/sp-interpop.XXXXXX)
pr_on_exit "rm -rf '$D'"
pr_redis_start "$D"
sp_certs "$D"
TP1=$(sp_free_port)
PP1=$(sp_free_port)
TP2=$(sp_free_port)
PP2=$(sp_free_port)
sp_config "$D" "$TP2" "$PP2" "tls_verify_client = optional" "peer_pops = pop1=127.0.0.1:$TP1"
sed -i "s/^pop = pop1/pop = pop2/; s/^tls_listen = 127.0.0.1:/tls_listen = 127.0.0.30:/;
	s/^listen = 127.0.0.1:/listen = 127.0.0.30:/; s/^advertised_host = .*/advertised_host = 127.0.0.30/;
	s/^media_addr = .*/media_addr = 127.0.0.30/" "$D/sp.conf"
mkdir -p "$D/pop2"
mv "$D/sp.conf" "$D/pop2/sp.conf"
sp_config "$D" "$TP1" "$PP1" "tls_verify_client = optional" "peer_pops = pop2=127.0.0.30:$TP2"
sp_start "$D"
P1=$SP_PID
"$BUILD/poprelay-slowpath" -c "$D/pop2/sp.conf" -v >"$D/pop2/sp.log" 2>&1 &
P2=$!
pr_on_exit "kill $P2 2>/dev/null"
pr_wait_for 5 grep -q "listening:" "$D/pop2/sp.log" || { cat "$D/pop2/sp.log"; pr_fail "pop2 did not start"; }
sp_user_add "$D" alice "$SP_PW_alice"
sp_user_add "$D" bob "$SP_PW_bob"
timeout 60 python3 "$PR_ROOT/tests/integration/slowpath/interpop.py" "$TP1" "$TP2" "$D" ||
	{ tail -15 "$D/sp.log"; tail -15 "$D/pop2/sp.log"; pr_fail "inter-PoP scenarios"; }
grep -q "to 127.0.0.30:$TP2 up, peer PoP pop2" "$D/sp.log" || pr_fail "pop1 log lacks the peer link"
grep -q "from 127.0.0.1:[0-9]* up, peer PoP pop1" "$D/pop2/sp.log" || pr_fail "pop2 did not see pop1 as a peer"
echo "ok: mutual-TLS peer link logged on both sides"
kill -0 "$P1" && kill -0 "$P2" || pr_fail "a slowpath died"
echo PASS
