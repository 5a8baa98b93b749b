#!/usr/bin/env bash
# Off-net: inbound calls from an external SIP party over UDP to a registered device (clear
# RTP kept clear, SRTP kept SRTP, the device always SRTP), outbound calls to a configured
# off-net route (UDP, retransmitted), sessions and CDRs with per-leg encryption status.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
[ -x "$BUILD/poprelay-slowpath" ] || pr_fail "build $BUILD/poprelay-slowpath first"
D=$(mktemp -d /tmp/sp-offnet.XXXXXX)
pr_on_exit "rm -rf '$D'"
pr_redis_start "$D"
sp_certs "$D"
TP=$(sp_free_port)
PP=$(sp_free_port)
EXTP=$(sp_free_port)
sp_config "$D" "$TP" "$PP" "offnet_routes = +=127.0.0.20:$EXTP"
sp_start "$D"
sp_user_add "$D" alice "$SP_PW_alice"
sp_user_add "$D" bob "$SP_PW_bob"
timeout 60 python3 "$PR_ROOT/tests/integration/slowpath/offnet.py" "$TP" "$PP" "$D" 127.0.0.20 "$EXTP" ||
	{ tail -20 "$D/sp.log"; pr_fail "off-net scenarios"; }
kill -0 "$SP_PID" || pr_fail "slowpath died"
echo PASS
