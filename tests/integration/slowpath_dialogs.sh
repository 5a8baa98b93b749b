#!/usr/bin/env bash
# Dialog paths of the B2BUA: CANCEL, error relayed, re-INVITE hold/resume from either side,
# flow loss, INVITE timeout; state cleaned and a CDR written on every path.
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
sp_config "$D" "$TP" "$PP" "invite_timeout_s = 3"
sp_start "$D"
sp_user_add "$D" alice "$SP_PW_alice"
sp_user_add "$D" bob "$SP_PW_bob"
timeout 90 python3 "$PR_ROOT/tests/integration/slowpath/dialogs.py" "$TP" "$D" ||
	{ tail -25 "$D/sp.log"; pr_fail "dialog scenarios"; }
kill -0 "$SP_PID" || pr_fail "slowpath died"
echo PASS
