#!/usr/bin/env bash
# Dialog paths of the B2BUA: CANCEL, error relayed, re-INVITE hold/resume from either side,
# flow loss, INVITE timeout, disabled user, shutdown; state cleaned and a CDR written on
# every path.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
[ -x "$BUILD/poprelay-slowpath" ] || pr_fail "build $BUILD/poprelay-slowpath first"
D=$(mktemp -d /tmp/sp-dialogs.XXXXXX)
pr_on_exit "rm -rf '$D'"
pr_redis_start "$D"
sp_certs "$D"
TP=$(sp_free_port)
PP=$(sp_free_port)
# stop_drain_s = 0: SIGTERM ends the calls at once (the shutdown path; drain.sh covers the wait)
sp_config "$D" "$TP" "$PP" "invite_timeout_s = 3" "stop_drain_s = 0"
sp_start "$D"
sp_user_add "$D" alice "$SP_PW_alice"
sp_user_add "$D" bob "$SP_PW_bob"
timeout 90 python3 "$PR_ROOT/tests/integration/slowpath/dialogs.py" "$TP" "$D" "$SP_PID" ||
	{ tail -25 "$D/sp.log"; pr_fail "dialog scenarios"; }
# the last scenario stops the slowpath with SIGTERM: it must exit 0
wait "$SP_PID"
rc=$?
[ $rc -eq 0 ] || pr_fail "slowpath exited $rc after SIGTERM"
grep -q "counters:" "$D/sp.log" || pr_fail "no final counters line"
echo PASS
