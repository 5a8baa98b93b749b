#!/usr/bin/env bash
# parallel:
# tests/lib.sh's pr_netns claims a namespace's name for the test that made it: two tests run
# at a time, and one that took the other's names deleted its namespaces under it (ha_split
# and ha_sip, both hs-*, failed together in a CI run). Checks: a second test asking for a
# name a live test holds fails, naming that test; the name is free again once the holder
# exits (its namespace deleted); a claim left by a dead process is taken over.
# Seen failing first: against the pr_netns before the claim, the second pr_netns succeeded
# (deleting the holder's namespace and making its own).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
N=lc-claim
holder=$(pr_tmpdir)/holder.sh
cat >"$holder" <<SH
. "$PR_ROOT/tests/lib.sh"
pr_netns $N
touch "\$1/ready"
while [ ! -e "\$1/stop" ]; do sleep 0.1; done
SH
d=$(pr_tmpdir)
bash "$holder" "$d" &
hp=$!
pr_on_exit "touch '$d/stop'; wait $hp 2>/dev/null"
pr_wait_for 10 test -e "$d/ready" || pr_fail "the holder did not start"

# a second test asking for the same name fails, and the holder's namespace stays
if out=$(bash -c ". '$PR_ROOT/tests/lib.sh'; pr_netns $N" 2>&1); then
	pr_fail "a second pr_netns $N succeeded while another test held it"
fi
echo "$out" | grep -q "network namespace $N is in use by holder.sh (pid $hp)" ||
	pr_fail "the refusal does not name the holder: $out"
ip netns list | grep -qw "$N" || pr_fail "the holder's namespace $N was deleted by the refused test"
pr_log "ok: a second test is refused $N while holder.sh (pid $hp) holds it: $out"

# the holder exits: its namespace and its claim go; the name can be taken again
touch "$d/stop"
wait $hp
! ip netns list | grep -qw "$N" || pr_fail "$N left behind by the holder"
[ ! -e /run/poprelay-tests/netns/$N ] || pr_fail "the holder's claim of $N left behind"
bash -c ". '$PR_ROOT/tests/lib.sh'; pr_netns $N" || pr_fail "$N not free after its holder exited"
pr_log "ok: free again after the holder exited"

# a claim left by a process that is gone (killed before its cleanup) is taken over
mkdir -p /run/poprelay-tests/netns/$N
sleep 0.01 & dead=$!; wait $dead
echo "$dead killed.sh" >/run/poprelay-tests/netns/$N/owner
bash -c ". '$PR_ROOT/tests/lib.sh'; pr_netns $N" || pr_fail "a dead process's claim of $N was not taken over"
[ ! -e /run/poprelay-tests/netns/$N ] || pr_fail "the claim taken over was not released at exit"
pr_log "ok: a dead process's claim taken over"
echo "PASS: pr_netns claims its names"
