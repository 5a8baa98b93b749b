#!/usr/bin/env bash
# parallel: slow
# TURN REST secrets managed with poprelayctl, proven against the real dataplane with coturn's
# turnutils_uclient -W (draft-uberti-behave-turn-rest): a rotation (add s1, add s2, del s1)
# takes effect within the dataplane's 2 s re-read, s1 refused (401) once deleted while s2
# goes on; a generated secret works; `turn secret list` shows ids and ages, never a secret;
# every change is in the audit trail, and no secret is in it, in poprelayctl's messages or in
# the dataplane's log.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$PR_ROOT/tests/integration/turn/env.sh"
te_up tsec
S1=tsec-first-secret-3f9a1c
S2=tsec-second-secret-77be20
RELOAD=2.2 # the dataplane re-reads pr:turn:secrets every 2 s (turn_store.c)

# rest NAME ok|fail SECRET: a small relay run of user carol with REST credentials
rest() { te_uclient "$1" "$2" -u carol -W "$3" -e $TE_PEER -r 3480 -n 10 -l 200 -z 10 -c $TE_SRV; }
# expect CODE CMD...: poprelayctl's exit status must be CODE; its stderr kept in $TE_DIR/err
expect() {
	local want=$1 rc=0
	shift
	te_ctl "$@" >"$TE_DIR/out" 2>"$TE_DIR/err" || rc=$?
	cat "$TE_DIR/err" >>"$TE_DIR/ctl.err"
	[ "$rc" = "$want" ] || { cat "$TE_DIR/out" "$TE_DIR/err" >&2; pr_fail "poprelayctl $*: exit $rc, want $want"; }
}

pr_log "s1 added with poprelayctl (from a file)"
printf '%s\n' "$S1" >"$TE_DIR/s1"
expect 0 turn secret add s1 --from-file "$TE_DIR/s1"
[ "$(te_rcli HGET pr:turn:secrets s1)" = "$S1" ] || pr_fail "s1 not stored as given"
rest s1-alone ok "$S1"
before401=$(te_stat err_401)
rest s2-before-added fail "$S2"
[ "$(te_stat err_401)" -gt "$before401" ] || pr_fail "an unknown secret was not answered 401"

pr_log "s2 added (from stdin): both work"
printf '%s\n' "$S2" | te_ctl turn secret add s2 --stdin >/dev/null 2>>"$TE_DIR/ctl.err" ||
	pr_fail "turn secret add s2 --stdin"
sleep $RELOAD
rest s2-added ok "$S2"
rest s1-still ok "$S1"
# refusals: a duplicate id, a secret shorter than the dataplane takes, the id of nothing
expect 1 turn secret add s2 --from-file "$TE_DIR/s1"
grep -q "exists already" "$TE_DIR/err" || pr_fail "duplicate: $(cat "$TE_DIR/err")"
[ "$(te_rcli HGET pr:turn:secrets s2)" = "$S2" ] || pr_fail "a refused duplicate changed s2"
printf 'short\n' >"$TE_DIR/short"
expect 1 turn secret add s3 --from-file "$TE_DIR/short"
grep -q "too short" "$TE_DIR/err" || pr_fail "short secret: $(cat "$TE_DIR/err")"
expect 2 turn secret add "bad id" --from-file "$TE_DIR/s1"
expect 1 turn secret del nosuch

pr_log "turn secret list: ids and ages, no secret"
expect 0 turn secret list
cp "$TE_DIR/out" "$TE_DIR/list"
cat "$TE_DIR/list" >&2
grep -Eq '^ID +ADDED +AGE$' "$TE_DIR/list" || pr_fail "list has no ID/ADDED/AGE header"
for id in s1 s2; do
	grep -Eq "^$id +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z +[0-9]+s$" "$TE_DIR/list" ||
		pr_fail "list: no row with the time added and age of $id"
done
expect 0 --json turn secret list
cp "$TE_DIR/out" "$TE_DIR/list.json"
python3 - "$TE_DIR/list.json" <<'PY' || pr_fail "--json list: ids and ages wrong"
import json, sys, time
rows = {r["id"]: r for r in json.load(open(sys.argv[1]))}
assert set(rows) == {"s1", "s2"}, rows
for r in rows.values():
    assert abs(time.time() - r["added"]) < 120 and 0 <= r["age_s"] < 120, r
PY

pr_log "s1 deleted: refused (401), s2 goes on"
expect 0 turn secret del s1
[ -z "$(te_rcli HGET pr:turn:secrets s1)" ] && [ -z "$(te_rcli HGET pr:turn:secret_added s1)" ] ||
	pr_fail "s1 or its time added still in redis"
sleep $RELOAD
before401=$(te_stat err_401)
rest s1-deleted fail "$S1"
[ "$(te_stat err_401)" -gt "$before401" ] || { te_dump; pr_fail "s1 after its deletion not answered 401"; }
rest s2-after ok "$S2"
expect 0 turn secret list
cat "$TE_DIR/out" >>"$TE_DIR/list"
grep -q '^s1 ' "$TE_DIR/out" && pr_fail "s1 still listed"
grep -q '^s2 ' "$TE_DIR/out" || pr_fail "s2 not listed"

pr_log "a generated secret, printed once, works with uclient"
te_ctl turn secret add gen --generate >"$TE_DIR/gen" 2>"$TE_DIR/gen.err" || pr_fail "--generate"
G=$(cat "$TE_DIR/gen")
[[ $G =~ ^[0-9a-f]{64}$ ]] || pr_fail "--generate printed '$(head -c 80 "$TE_DIR/gen")', not 64 hex digits"
[ "$(te_rcli HGET pr:turn:secrets gen)" = "$G" ] || pr_fail "the generated secret is not the stored one"
sleep $RELOAD
rest generated ok "$G"
expect 0 turn secret list
cat "$TE_DIR/out" >>"$TE_DIR/list"

pr_log "the audit trail: every change, no secret"
expect 0 audit --count 100
cp "$TE_DIR/out" "$TE_DIR/audit"
for want in "turn.secret.add +turn_secret:s1 +ok" "turn.secret.add +turn_secret:s2 +ok" \
	"turn.secret.add +turn_secret:s2 +EEXIST" "turn.secret.add +turn_secret:s3 +EINVAL" \
	"turn.secret.del +turn_secret:s1 +ok" "turn.secret.del +turn_secret:nosuch +ENOENT" \
	"turn.secret.add +turn_secret:gen +ok +generated" "turn.secret.list +turn_secrets +ok"; do
	grep -Eq "ctl:[^ ]+ +$want" "$TE_DIR/audit" || { cat "$TE_DIR/audit" >&2; pr_fail "audit: no '$want'"; }
done
te_rcli XRANGE pr:audit - + >"$TE_DIR/audit.raw"
for s in "$S1" "$S2" "$G"; do
	for f in "$TE_DIR/list" "$TE_DIR/list.json" "$TE_DIR/audit" "$TE_DIR/audit.raw" \
		"$TE_DIR/ctl.err" "$TE_DIR/gen.err" "$TE_DIR/dp.log" "$TE_DIR/dp.out"; do
		grep -qF -- "$s" "$f" && pr_fail "a secret in $(basename "$f")"
	done
done
pr_log "ok: no secret in lists, audit, poprelayctl's messages or the dataplane's log"
exit 0
