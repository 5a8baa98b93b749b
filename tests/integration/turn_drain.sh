#!/usr/bin/env bash
# The maintenance drain seen by coturn's own client (drain.sh has the SIP side and the
# deadline): turnutils_uclient in the world of turn/env.sh.
#   1 a uclient session that began before `poprelayctl drain` goes on through it: every
#     datagram of a 10 s run comes back (0 lost);
#   2 while drained, a new uclient gets no relay: its Allocate is answered 486 ([turn]
#     alternate_server is not set here; drain.sh has the 300 Try Alternate, which uclient
#     would follow to the alternate) and nothing is relayed;
#   3 `poprelayctl undrain`: a new uclient relays again, 0 lost.
# Exits 0, 77 (skip: not root, no coturn), 1.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/turn/env.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
te_up td
PW=drain-pw-$RANDOM$RANDOM
printf '%s\n' "$PW" | te_ctl user add dave >/dev/null || pr_fail "poprelayctl user add"
uc() { # NAME ok|fail PACKETS: dave's client, PACKETS datagrams 20 ms apart
	te_uclient "$1" "$2" -u dave -w "$PW" -e $TE_PEER -r 3480 -n "$3" -l 200 -z 20 -c $TE_SRV
}

pr_log "a session from before the drain goes on through it"
uc before-drain ok 500 &
long=$!
sleep 3
te_ctl drain --deadline 120 >/dev/null || pr_fail "poprelayctl drain"
pr_wait_for 3 bash -c "[ \"\$($TE_TEL $TE_PREFIX /poprelay/turn/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"/poprelay/turn/stats\"][\"draining\"])')\" = 1 ]" ||
	{ te_dump; pr_fail "the dataplane does not show the drain"; }
pr_log "ok: draining (telemetry draining = 1)"

pr_log "a new client during the drain: 486, no relay"
e486=$(te_stat err_486)
uc during-drain fail 10
[ "$(te_stat err_486)" -gt "$e486" ] || { te_dump; pr_fail "no 486 answered to the new client's Allocate"; }
pr_log "ok: the new client's Allocate was answered 486 ($(te_stat err_486) so far)"
wait $long || pr_fail "the session from before the drain lost datagrams"

pr_log "undrain: a new client relays again"
te_ctl undrain >/dev/null || pr_fail "poprelayctl undrain"
pr_wait_for 3 bash -c "[ \"\$($TE_TEL $TE_PREFIX /poprelay/turn/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"/poprelay/turn/stats\"][\"draining\"])')\" = 0 ]" ||
	pr_fail "the dataplane still drains after undrain"
uc after-undrain ok 20
pr_log "pass"
