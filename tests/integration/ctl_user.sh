#!/usr/bin/env bash
# poprelayctl user management against a private redis-server: HA1 digests right and only
# digests stored, weak passwords refused with a reason, table and JSON listings, set,
# passwd, del, audit trail, exit codes (1 missing user, 2 usage, 3 Redis down) and no
# secret anywhere in what the tool prints.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

CTL=$BUILD/poprelayctl
[ -x "$CTL" ] || pr_fail "$CTL not built"
command -v redis-server >/dev/null || pr_skip "redis-server not installed"
command -v python3 >/dev/null || pr_skip "python3 not installed"

D=$(mktemp -d /tmp/ks-ctl-user.XXXXXX) || pr_fail "mktemp"
pr_on_exit "rm -rf '$D'"
pr_redis_start "$D"
SOCK=$D/redis.sock
REALM=ks-test-realm
cat >"$D/poprelay.conf" <<EOF
; sections poprelayctl does not know must not bother it
[eal]
lcores = 0-3
[global]
realm = $REALM   ; the digest realm
pop = ks-pop1
[redis]
socket = $SOCK
EOF
ctl() { "$CTL" -c "$D/poprelay.conf" "$@"; }
rcli() { redis-cli -s "$SOCK" "$@"; }
OUT=$D/all-output # everything the tool printed, checked for secrets at the end
run() { # run EXPECTED_RC CMD... (stdin passes through); stdout in $D/out, stderr in $D/err
	local want=$1 rc
	shift
	"$@" >"$D/out" 2>"$D/err"
	rc=$?
	cat "$D/out" "$D/err" >>"$OUT"
	if [ "$rc" != "$want" ]; then
		echo "--- stdout"; cat "$D/out"; echo "--- stderr"; cat "$D/err"
		pr_fail "'$*' exited $rc, expected $want"
	fi
}
ha1() { python3 -c 'import hashlib,sys; print(hashlib.new(sys.argv[1], ":".join(sys.argv[2:5]).encode()).hexdigest())' "$@"; }

PW_ALICE='correct-Horse-battery-9-staple'
PW_ALICE2='Gl4cier-mint-quartz-ferry-71'
WEAK='password123'

pr_log "add with a strong password"
printf '%s\n' "$PW_ALICE" | run 0 ctl user add alice --display-name "Alice Example" \
	--encryption-required yes --max-tx-kbps 2048 --max-rx-kbps 4096 --keepalive 25
grep -q "alice added" "$D/out" || pr_fail "no confirmation: $(cat "$D/out")"
[ "$(rcli HGET pr:user:alice ha1_md5)" = "$(ha1 md5 alice "$REALM" "$PW_ALICE")" ] ||
	pr_fail "ha1_md5 is not MD5(alice:$REALM:password)"
[ "$(rcli HGET pr:user:alice ha1_sha256)" = "$(ha1 sha256 alice "$REALM" "$PW_ALICE")" ] ||
	pr_fail "ha1_sha256 is not SHA-256(alice:$REALM:password)"
[ "$(rcli HGET pr:user:alice realm)" = "$REALM" ] || pr_fail "realm not stored"
[ "$(rcli HGET pr:user:alice pop)" = "ks-pop1" ] || pr_fail "pop default from [global] pop"
[ "$(rcli HGET pr:user:alice uri)" = "sip:alice@$REALM" ] || pr_fail "default uri"
[ "$(rcli HGET pr:user:alice encryption_required)" = 1 ] || pr_fail "encryption_required"
[ "$(rcli HGET pr:user:alice max_rx_kbps)" = 4096 ] || pr_fail "max_rx_kbps"
[ "$(rcli HGET pr:user:alice v)" = 1 ] || pr_fail "record version"
[ "$(rcli GET pr:schema)" = 1 ] || pr_fail "pr:schema not set"
[ "$(rcli SISMEMBER pr:users alice)" = 1 ] || pr_fail "alice not in pr:users"
rcli HGETALL pr:user:alice | grep -qF "$PW_ALICE" && pr_fail "the password itself is stored"
for k in $(rcli --scan); do
	[ "$(rcli TYPE "$k")" = hash ] || continue
	rcli HGETALL "$k" | grep -qF "$PW_ALICE" && pr_fail "password stored in $k"
done

pr_log "add: duplicate, weak password, bad values"
printf '%s\n' "$PW_ALICE" | run 1 ctl user add alice
grep -q "already exists" "$D/err" || pr_fail "duplicate not explained"
printf '%s\n' "$WEAK" | run 1 ctl user add bob
grep -q "too weak" "$D/err" && grep -q "entropy" "$D/err" && grep -q "dictionary word" "$D/err" ||
	pr_fail "weak password refused without a reason: $(cat "$D/err")"
[ "$(rcli EXISTS pr:user:bob)" = 0 ] || pr_fail "bob created with a weak password"
printf 'Sh0rt!x\n' | run 1 ctl user add bob
grep -q "at least 10 characters" "$D/err" || pr_fail "short password not explained"
printf 'bobbobbob-bob\n' | run 1 ctl user add bob
grep -q "too weak" "$D/err" || pr_fail "password made of the user name accepted"
printf '%s\n' "$PW_ALICE" | run 2 ctl user add bob --max-tx-kbps lots
printf '%s\n' "$PW_ALICE" | run 2 ctl user add bob --encryption-required maybe
printf '%s\n' "$PW_ALICE" | run 2 ctl user add 'bad name'
printf '%s\n' "$PW_ALICE" | run 2 ctl user add bob --uri http://example.com/
run 1 ctl user add bob </dev/null
printf 'Zebra-violet-7-orbit-lamp\n' >"$D/pw-bob"
run 0 ctl user add bob --password-file "$D/pw-bob" --pop ks-pop2
[ "$(rcli HGET pr:user:bob ha1_md5)" = "$(ha1 md5 bob "$REALM" Zebra-violet-7-orbit-lamp)" ] ||
	pr_fail "--password-file digest"

pr_log "password prompted on a terminal, without echo"
cat >"$D/ks_prompt.py" <<'EOF'
import os, pty, sys, time
ctl, conf, name, first, second = sys.argv[1:6]
pid, fd = pty.fork()
if pid == 0:
    os.execv(ctl, [ctl, "-c", conf, "user", "add", name])
out = b""
def until(s, t=10):
    global out
    end = time.time() + t
    while s not in out and time.time() < end:
        try:
            out += os.read(fd, 1024)
        except OSError:
            return
until(b"New password")
os.write(fd, first.encode() + b"\n")
until(b"Repeat")
os.write(fd, second.encode() + b"\n")
while True:
    try:
        b = os.read(fd, 1024)
    except OSError:
        break
    if not b:
        break
    out += b
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.WEXITSTATUS(st))
EOF
PW_TTY='Sapphire-otter-42-lantern'
python3 "$D/ks_prompt.py" "$CTL" "$D/poprelay.conf" carol "$PW_TTY" "$PW_TTY" >"$D/out" 2>&1 ||
	pr_fail "tty add failed: $(cat "$D/out")"
cat "$D/out" >>"$OUT"
grep -q "carol added" "$D/out" || pr_fail "tty add: $(cat "$D/out")"
[ "$(rcli HGET pr:user:carol ha1_md5)" = "$(ha1 md5 carol "$REALM" "$PW_TTY")" ] || pr_fail "tty digest"
python3 "$D/ks_prompt.py" "$CTL" "$D/poprelay.conf" dave "$PW_TTY" "${PW_TTY}x" >"$D/out" 2>&1 &&
	pr_fail "two different passwords accepted"
cat "$D/out" >>"$OUT"
grep -q "differ" "$D/out" || pr_fail "mismatch not explained: $(cat "$D/out")"
[ "$(rcli EXISTS pr:user:dave)" = 0 ] || pr_fail "dave created despite a mismatch"
run 0 ctl user del carol

pr_log "list (table and JSON), show"
run 0 ctl user list
head -1 "$D/out" | grep -q "^NAME " || pr_fail "table header: $(head -1 "$D/out")"
grep -q "^alice .*Alice Example.*required.*2048.*4096.*ks-pop1" "$D/out" ||
	pr_fail "alice row: $(cat "$D/out")"
grep -q "^bob .*ks-pop2" "$D/out" || pr_fail "bob row"
run 0 ctl --json user list
python3 - "$D/out" <<'EOF' || pr_fail "JSON list"
import json, sys
users = {u["name"]: u for u in json.load(open(sys.argv[1]))}
assert sorted(users) == ["alice", "bob"], users
a = users["alice"]
assert a["display_name"] == "Alice Example" and a["max_tx_kbps"] == 2048, a
assert a["encryption_required"] is True and a["keepalive_s"] == 25, a
assert a["ha1_md5"] == "set" and a["ha1_sha256"] == "set", a
assert a["registered"] is False
EOF
run 0 ctl user list --json
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$D/out" || pr_fail "list --json"
run 0 ctl user show alice
grep -q "^ha1_md5 *set$" "$D/out" || pr_fail "show must print 'set' for ha1_md5"
grep -q "^display_name *Alice Example$" "$D/out" || pr_fail "show display_name"
grep -q "^registration *none$" "$D/out" || pr_fail "show registration"
run 0 ctl --json user show alice
python3 -c 'import json,sys; u=json.load(open(sys.argv[1])); assert u["name"]=="alice" and u["ha1_sha256"]=="set" and u["registration"] is None' "$D/out" ||
	pr_fail "show --json"
run 1 ctl user show nobody
grep -q "no such user 'nobody'" "$D/err" || pr_fail "missing user message"

pr_log "set and passwd"
run 0 ctl user set alice --max-tx-kbps 512 --pop ks-pop3 --disabled yes
[ "$(rcli HGET pr:user:alice max_tx_kbps)" = 512 ] || pr_fail "set max_tx_kbps"
[ "$(rcli HGET pr:user:alice pop)" = ks-pop3 ] || pr_fail "set pop"
[ "$(rcli HGET pr:user:alice disabled)" = 1 ] || pr_fail "set disabled"
[ "$(rcli HGET pr:user:alice display_name)" = "Alice Example" ] || pr_fail "set clobbered a field"
[ "$(rcli HGET pr:user:alice ha1_md5)" = "$(ha1 md5 alice "$REALM" "$PW_ALICE")" ] ||
	pr_fail "set changed the digest"
run 2 ctl user set alice
run 2 ctl user set alice --keepalive -5
run 2 ctl user set alice --password-file "$D/pw-bob"
run 1 ctl user set nobody --pop x
printf '%s\n' "$WEAK" | run 1 ctl user passwd alice
[ "$(rcli HGET pr:user:alice ha1_md5)" = "$(ha1 md5 alice "$REALM" "$PW_ALICE")" ] ||
	pr_fail "a refused passwd changed the digest"
printf '%s\n' "$PW_ALICE2" | run 0 ctl user passwd alice
[ "$(rcli HGET pr:user:alice ha1_md5)" = "$(ha1 md5 alice "$REALM" "$PW_ALICE2")" ] ||
	pr_fail "passwd ha1_md5"
[ "$(rcli HGET pr:user:alice ha1_sha256)" = "$(ha1 sha256 alice "$REALM" "$PW_ALICE2")" ] ||
	pr_fail "passwd ha1_sha256"
printf '%s\n' "$PW_ALICE2" | run 1 ctl user passwd nobody

pr_log "a registration shows up"
rcli HSET pr:reg:bob v 1 user bob contact "sip:bob@198.51.100.7:5061;transport=tls" pop ks-pop2 \
	transport tls src_addr 198.51.100.7 src_port 40001 expires_s 600 \
	expires $(($(date +%s) + 600)) created 1 updated 1 user_agent "KsPhone 1.0" >/dev/null
run 0 ctl user show bob
grep -q "^registration *sip:bob@198.51.100.7:5061;transport=tls via tls from 198.51.100.7:40001" "$D/out" ||
	pr_fail "registration line: $(grep registration "$D/out")"
run 0 ctl user list
grep -q "^bob .* yes$" "$D/out" || pr_fail "bob should be registered in the list"

pr_log "del"
run 0 ctl user del bob
[ "$(rcli EXISTS pr:user:bob)" = 0 ] && [ "$(rcli EXISTS pr:reg:bob)" = 0 ] ||
	pr_fail "del left the user or its registration"
[ "$(rcli SISMEMBER pr:users bob)" = 0 ] || pr_fail "del left bob in pr:users"
run 1 ctl user del bob

pr_log "usage errors"
run 2 ctl user
run 2 ctl user frobnicate alice
run 2 ctl user show
run 2 ctl frobnicate
run 2 ctl user list extra
run 2 ctl user add erin "$PW_ALICE" # a password given as an argument is refused, not echoed
run 2 ctl user add erin --password="$PW_ALICE"
run 0 ctl user --help
run 0 ctl help

pr_log "audit trail"
rcli XRANGE pr:audit - + >"$D/audit"
for a in user.add user.set user.passwd user.del user.show user.list; do
	grep -qx "$a" "$D/audit" || pr_fail "no $a entry in pr:audit"
done
grep -qx "weak password refused" "$D/audit" || pr_fail "refused add not audited"
grep -q "^ctl:" "$D/audit" || pr_fail "audit actor"
cat "$D/audit" >>"$OUT"

pr_log "redis not running"
run 3 "$CTL" -c "$D/poprelay.conf" -s "$D/nowhere.sock" user list
grep -q "redis is not running" "$D/err" || pr_fail "not-running message: $(cat "$D/err")"
run 1 "$CTL" -c "$D/missing.conf" user list
kill "$(cat "$D/redis.pid")"
pr_wait_for 5 bash -c "! kill -0 $(cat "$D/redis.pid") 2>/dev/null"
run 3 ctl user list
run 3 ctl user show alice

pr_log "no secret in any output"
for s in "$PW_ALICE" "$PW_ALICE2" Zebra-violet-7-orbit-lamp "$WEAK" "$PW_TTY" \
	"$(ha1 md5 alice "$REALM" "$PW_ALICE")" "$(ha1 sha256 alice "$REALM" "$PW_ALICE")" \
	"$(ha1 md5 alice "$REALM" "$PW_ALICE2")" "$(ha1 sha256 alice "$REALM" "$PW_ALICE2")"; do
	grep -qF -- "$s" "$OUT" && pr_fail "a secret appeared in the output"
done
[ -s "$OUT" ] || pr_fail "no output captured"
pr_log "ctl_user: pass"
exit 0
