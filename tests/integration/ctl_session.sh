#!/usr/bin/env bash
# poprelayctl session list / show against a private redis-server holding media sessions
# written the way the slowpath writes them (pr:session:<id> with SDES keys, pr:sessions,
# an install entry on pr:sessions:stream) plus the figures the dataplane adds to each hash
# (X_rx_packets ... X_last_rx, X_streams): table and JSON views, sort by creation time,
# every field in show, unknown and malformed ids and records, an empty set, audit entries
# (session.list, session.read), exit codes, and no key material (nor X_streams) anywhere
# in what the tool prints.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

CTL=$BUILD/poprelayctl
[ -x "$CTL" ] || pr_fail "$CTL not built"
command -v redis-server >/dev/null || pr_skip "redis-server not installed"
command -v python3 >/dev/null || pr_skip "python3 not installed"

D=$(mktemp -d /tmp/ks-ctl-session.XXXXXX) || pr_fail "mktemp"
pr_on_exit "rm -rf '$D'"
pr_redis_start "$D"
SOCK=$D/redis.sock
ctl() { "$CTL" -s "$SOCK" "$@"; }
rcli() { redis-cli -s "$SOCK" "$@"; }
OUT=$D/all-output # everything the tool printed, checked for secrets at the end
run() { # run EXPECTED_RC CMD...; stdout in $D/out, stderr in $D/err
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
has() { # has REGEX FILE: grep -E with the file shown on failure
	grep -qE -- "$1" "$2" || { echo "--- $2"; cat "$2"; pr_fail "no line matching /$1/"; }
}

# SDES inline key||salt values (base64) as the slowpath stores them: never to be printed.
KEYS=(
	bNgNq9D9qo3PT2cP88ERTCoyIIEH1SF3zviKKXc/ N367RwuOCgHADfyjZ1+LyWUq+uIxMfbWmlymxci0
	9MaIWk0RS3Htfh9UdCOnXudnyPxlOT/L2UzcrAWr wq/kDANn4qzljEKWpVeHrURyIa6YbQZOBD06Nrgc
	4ue8LR8vM/pSHaG3q5I9kGRUE+Z5A8f2sXvH4g== FpVNVaaB11/NWlxHH8JH+yDm6oT5hQfbCK+cyQ==
	FxijpDwf+yXRptWAyv2MrAIWoaoocr4waEcFytYp fFedQzTvdx5zaUQY0dcqjYyvlBPMd6J/OkZEmaBl
)
STREAMS=(5f3c2a10:1499:7:1489:7 7d01ee42:1488:6:1497:6 9a9a0001:30211:40:-1:-1)

NOW=$(date +%s)
# Session ids as the slowpath makes them (<call token>-<m-line>); their alphabetical
# order (S3 S1 S2) is not their creation order (S2 S1 S3), which the list must follow.
S1=a1c0ffee5e55104a9d2b7c3e8f60aa01-0
S2=b7d00d7e0a4c4f5b8e2d1c0b9a8f7e61-1
S3=0e0e5a1b2c3d4e5f60718293a4b5c6d7-0
CALLID1=a84b4c76e66710f3b2c1d0e9@pc33.example.com
CALLID2=3c26700857e1@203.0.113.7
OFFNET='sip:+493012345678@carrier-gw.example.net;user=phone'

session() { # session ID CALL_ID MEDIA MLINE CREATED LEG_A_FIELDS... -- LEG_B_FIELDS...
	local id=$1 cid=$2 media=$3 mline=$4 created=$5 args=() l=a
	shift 5
	args=(v 1 id "$id" call_id "$cid" cdr_id "${id%-*}" media "$media" mline "$mline"
		idle_timeout_s 60 created "$created" updated "$created")
	while [ $# -gt 0 ]; do
		if [ "$1" = -- ]; then l=b; shift; continue; fi
		args+=("${l}_$1" "$2")
		shift 2
	done
	# as pr_ks_session_store: hash, set member and the install command in one transaction
	printf '%s\n' MULTI "DEL pr:session:$id" >"$D/tx"
	python3 -c 'import shlex,sys; print("HSET " + " ".join(shlex.quote(a) for a in sys.argv[1:]))' \
		"pr:session:$id" "${args[@]}" >>"$D/tx"
	printf '%s\n' "SADD pr:sessions $id" "XADD pr:sessions:stream MAXLEN ~ 100000 * op install id $id ts $created" EXEC >>"$D/tx"
	rcli <"$D/tx" >"$D/tx.out" || pr_fail "cannot write session $id"
	grep -q ERR "$D/tx.out" && pr_fail "session $id: $(cat "$D/tx.out")"
	return 0
}
figures() { # figures ID LEG rx_pkts rx_bytes tx_pkts tx_bytes lost jitter auth relatch kbps latched last_rx streams
	local id=$1 l=$2
	rcli HSET "pr:session:$id" "${l}_rx_packets" "$3" "${l}_rx_bytes" "$4" "${l}_tx_packets" "$5" \
		"${l}_tx_bytes" "$6" "${l}_lost" "$7" "${l}_jitter_us" "$8" "${l}_auth_fail" "$9" \
		"${l}_relatch" "${10}" "${l}_kbps" "${11}" "${l}_latched" "${12}" "${l}_last_rx" "${13}" \
		"${l}_streams" "${14}" >/dev/null || pr_fail "cannot write figures of $id"
}

pr_log "sessions as the slowpath and the dataplane write them"
rcli SET pr:schema 1 >/dev/null
session "$S1" "$CALLID1" audio 0 $((NOW - 60)) \
	party alice onnet 1 family ip4 peer_addr 192.0.2.10 peer_port 40000 latch 1 \
	relay_addr 198.51.100.10 relay_port 30000 rtcp_mux 1 profile RTP/SAVP \
	suite AES_CM_128_HMAC_SHA1_80 key_rx "${KEYS[0]}" key_tx "${KEYS[1]}" encrypted 1 max_kbps 2048 \
	-- party bob onnet 1 family ip4 peer_addr 192.0.2.20 peer_port 40010 latch 1 \
	relay_addr 198.51.100.10 relay_port 30002 rtcp_mux 1 profile RTP/SAVP \
	suite AES_CM_128_HMAC_SHA1_80 key_rx "${KEYS[2]}" key_tx "${KEYS[3]}" encrypted 1 max_kbps 0
figures "$S1" a 1500 240000 1490 238400 3 4200 2 1 64 203.0.113.99:51234 $((NOW - 1)) "${STREAMS[0]}"
figures "$S1" b 1490 238400 1500 240000 0 2600 0 0 63 203.0.113.50:40010 $((NOW - 1)) "${STREAMS[1]}"
session "$S2" "$CALLID2" video 1 $((NOW - 600)) \
	party carol onnet 1 family ip6 peer_addr 2001:db8:1::10 peer_port 50000 latch 1 \
	relay_addr 2001:db8:100::10 relay_port 30010 rtcp_mux 0 profile RTP/SAVP \
	suite AEAD_AES_128_GCM key_rx "${KEYS[4]}" key_tx "${KEYS[5]}" encrypted 1 max_kbps 4096 \
	-- party "$OFFNET" onnet 0 family ip6 peer_addr 2001:db8:2::7 peer_port 16000 latch 0 \
	relay_addr 2001:db8:100::10 relay_port 30012 rtcp_mux 0 profile RTP/AVP encrypted 0
figures "$S2" a 30211 31500000 0 0 12 9100 0 0 420 '[2001:db8:1::99]:50000' $((NOW - 2)) "${STREAMS[2]}"
figures "$S2" b 0 0 30190 31480000 0 0 0 0 0 - 0 ""
# S3: just installed, the dataplane has not reported it yet
session "$S3" "$CALLID1" audio 0 $((NOW - 5)) \
	party alice onnet 1 family ip4 peer_addr 192.0.2.10 peer_port 40002 latch 1 \
	relay_addr 198.51.100.10 relay_port 30004 rtcp_mux 1 profile RTP/SAVP \
	suite AES_CM_128_HMAC_SHA1_32 key_rx "${KEYS[6]}" key_tx "${KEYS[7]}" encrypted 1 \
	-- party bob onnet 1 family ip4 peer_addr 192.0.2.20 peer_port 40012 latch 1 \
	relay_addr 198.51.100.10 relay_port 30006 rtcp_mux 1 profile RTP/AVP encrypted 0
[ "$(rcli SCARD pr:sessions)" = 3 ] || pr_fail "fixture: pr:sessions"
[ "$(rcli HGET "pr:session:$S1" a_key_rx)" = "${KEYS[0]}" ] || pr_fail "fixture: keys not stored"

pr_log "session list: header, one row per session, oldest first"
run 0 ctl session list
[ "$(wc -l <"$D/out")" = 4 ] || pr_fail "list: want a header and 3 rows: $(cat "$D/out")"
has '^ID +MEDIA +CALL-ID +A PARTY +A RELAY +A LATCHED +A ENCRYPTION +A RX/TX +A KBPS +B PARTY +B RELAY +B LATCHED +B ENCRYPTION +B RX/TX +B KBPS$' "$D/out"
[ "$(awk 'NR > 1 {print $1}' "$D/out" | tr '\n' ' ')" = "$S2 $S1 $S3 " ] ||
	pr_fail "not sorted by creation time: $(awk 'NR > 1 {print $1}' "$D/out" | tr '\n' ' ')"
has "^$S1 +audio +a84b4c76e66710f3b\.\.\. +alice +198\.51\.100\.10:30000 +203\.0\.113\.99:51234 +AES_CM_128_HMAC_SHA1_80 +1500/1490 +64 +bob +198\.51\.100\.10:30002 +203\.0\.113\.50:40010 +AES_CM_128_HMAC_SHA1_80 +1490/1500 +63$" "$D/out"
has "^$S2 +video +3c26700857e1@203\.\.\.\. +carol +\[2001:db8:100::10\]:30010 +\[2001:db8:1::99\]:50000 +AEAD_AES_128_GCM +30211/0 +420 +sip:\+493012345678@carrier-gw\.\.\.\. +\[2001:db8:100::10\]:30012 +- +clear +0/30190 +0$" "$D/out"
has "^$S3 +audio +a84b4c76e66710f3b\.\.\. +alice +198\.51\.100\.10:30004 +- +AES_CM_128_HMAC_SHA1_32 +- +- +bob +198\.51\.100\.10:30006 +- +clear +- +-$" "$D/out"
grep -qF "$CALLID1" "$D/out" && pr_fail "list: the call id is not shortened"

pr_log "session list --json (after the command and as a global option)"
for form in "session list --json" "--json session list"; do
	# shellcheck disable=SC2086
	run 0 ctl $form
	python3 - "$D/out" "$S1" "$S2" "$S3" <<'EOF' || pr_fail "$form: $(cat "$D/out")"
import json, sys
arr = json.load(open(sys.argv[1]))
s1, s2, s3 = sys.argv[2:5]
assert [s["id"] for s in arr] == [s2, s1, s3], [s["id"] for s in arr]
rec = ["id", "call_id", "cdr_id", "media", "mline", "idle_timeout_s", "created", "updated"]
leg = ["party", "onnet", "family", "peer_addr", "peer_port", "latch", "relay_addr",
       "relay_port", "rtcp_mux", "profile", "suite", "encrypted", "max_kbps", "ice_ufrag",
       "ice_remote_ufrag", "keying", "dtls_setup", "dtls_fingerprint"]
figs = ["rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "lost", "jitter_us",
        "auth_fail", "relatch", "kbps", "latched", "last_rx", "dtls_suite"]
state = ["ice_nominated", "dtls_keyed"]
want = rec + [l + "_" + f for l in "ab" for f in leg + figs + state]
for s in arr:
    # these, in this order; a field added to the record later shows up by itself among
    # its leg's fields (never a secret one, nor X_streams)
    got = list(s)
    assert [f for f in got if f in want] == want, sorted(set(want) - set(got))
    extra = [f for f in got if f not in want]
    assert all(f[:2] in ("a_", "b_") and not any(x in f for x in ("key", "pwd", "streams"))
               for f in extra), extra
    for l in "ab":
        assert all(got.index(l + "_party") < got.index(f) < got.index(l + "_rx_packets")
                   for f in extra if f.startswith(l + "_")), got
    assert s["a_dtls_suite"] is None and s["a_dtls_keyed"] is None, s   # SDES legs
    assert s["a_ice_nominated"] is None, s                               # no ICE
by = {s["id"]: s for s in arr}
a = by[s1]
assert a["call_id"] == "a84b4c76e66710f3b2c1d0e9@pc33.example.com", a
assert a["a_party"] == "alice" and a["a_onnet"] is True and a["a_peer_port"] == 40000, a
assert a["a_suite"] == "AES_CM_128_HMAC_SHA1_80" and a["a_encrypted"] is True, a
assert a["a_max_kbps"] == 2048 and a["b_max_kbps"] == 0, a
assert a["a_rx_packets"] == 1500 and a["a_tx_bytes"] == 238400 and a["a_lost"] == 3, a
assert a["a_jitter_us"] == 4200 and a["a_auth_fail"] == 2 and a["a_relatch"] == 1, a
assert a["a_kbps"] == 64 and a["a_latched"] == "203.0.113.99:51234", a
assert a["b_latched"] == "203.0.113.50:40010" and isinstance(a["b_last_rx"], int), a
b = by[s2]
assert b["media"] == "video" and b["mline"] == 1 and b["a_family"] == "ip6", b
assert b["a_latched"] == "[2001:db8:1::99]:50000" and b["a_rtcp_mux"] is False, b
assert b["b_party"] == "sip:+493012345678@carrier-gw.example.net;user=phone", b
assert b["b_encrypted"] is False and b["b_suite"] == "", b
assert b["b_latched"] is None and b["b_last_rx"] == 0 and b["b_tx_packets"] == 30190, b
c = by[s3]
assert all(c[l + "_" + f] is None for l in "ab" for f in figs), c   # not reported yet
EOF
done

pr_log "session show ID: every field of both legs and the figures"
run 0 ctl session show "$S1"
has "^id +$S1$" "$D/out"
has "^call_id +a84b4c76e66710f3b2c1d0e9@pc33\.example\.com$" "$D/out"
has "^cdr_id +${S1%-*}$" "$D/out"
has "^media +audio$" "$D/out"
has "^mline +0$" "$D/out"
has "^idle_timeout_s +60$" "$D/out"
has "^created +$(date -u -d @$((NOW - 60)) +%Y-%m-%dT%H:%M:%SZ)$" "$D/out"
has "^leg a \(caller side\)$" "$D/out"
has "^leg b \(callee side\)$" "$D/out"
for l in "party +alice" "onnet +yes" "family +ip4" "peer \(SDP\) +192\.0\.2\.10:40000" \
	"relay +198\.51\.100\.10:30000" "rtcp_mux +yes" "latch +yes" "profile +RTP/SAVP" \
	"suite +AES_CM_128_HMAC_SHA1_80" "encrypted +yes \(SRTP\)" "max_kbps +2048" \
	"latched +203\.0\.113\.99:51234" "rx \(from device\) +1500 packets, 240000 bytes" \
	"tx \(to device\) +1490 packets, 238400 bytes" "lost +3" "jitter +4200 us \(4\.2 ms\)" \
	"auth_fail +2" "relatch +1" "kbps +64" "last_rx +[0-9T:-]+Z \([0-9]+ s ago\)" \
	"party +bob" "peer \(SDP\) +192\.0\.2\.20:40010" "max_kbps +unlimited" \
	"latched +203\.0\.113\.50:40010" "kbps +63" \
	"keying +sdes \(keys from the SDP's a=crypto\)" "ice +no \(not an ICE leg\)"; do
	has "^  $l$" "$D/out"
done
[ "$(grep -c '^  ' "$D/out")" = $((2 * 22)) ] || pr_fail "show: want 22 lines per leg: $(cat "$D/out")"
run 0 ctl session show "$S2"
has "^  peer \(SDP\) +\[2001:db8:2::7\]:16000$" "$D/out"
has "^  party +sip:\+493012345678@carrier-gw\.example\.net;user=phone$" "$D/out"
has "^  rtcp_mux +no \(RTCP on the ports \+ 1\)$" "$D/out"
has "^  encrypted +no \(clear RTP\)$" "$D/out"
has "^  suite +-$" "$D/out"
has "^  last_rx +never$" "$D/out"
run 0 ctl session show "$S3"
[ "$(grep -cE '^  figures +none yet \(not reported by the dataplane\)$' "$D/out")" = 2 ] ||
	pr_fail "show: an unreported session: $(cat "$D/out")"

pr_log "session show ID --json"
for form in "session show $S1 --json" "--json session show $S1"; do
	# shellcheck disable=SC2086
	run 0 ctl $form
	python3 - "$D/out" "$S1" <<'EOF' || pr_fail "$form: $(cat "$D/out")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["id"] == sys.argv[2] and s["a_relay_port"] == 30000 and s["b_relay_port"] == 30002, s
assert s["a_rx_packets"] == 1500 and s["b_kbps"] == 63 and s["a_latched"] == "203.0.113.99:51234", s
assert not [k for k in s if "key_" in k or "stream" in k], s   # X_keying is no key
assert "set" not in s.values(), s
EOF
done

pr_log "unknown and invalid ids, usage"
run 1 ctl session show ffffffffffffffffffffffffffffffff-0
has "no such session 'ffffffffffffffffffffffffffffffff-0'" "$D/err"
[ -s "$D/out" ] && pr_fail "unknown id: something on stdout: $(cat "$D/out")"
run 1 ctl --json session show ffffffffffffffffffffffffffffffff-0
run 2 ctl session show '../pr:user:alice'
has "not a session id" "$D/err"
run 2 ctl session
run 2 ctl session frobnicate
run 2 ctl session show
run 2 ctl session show "$S1" "$S2"
run 2 ctl session list "$S1"
run 2 ctl session list --limit 3
run 0 ctl session --help
has "session show ID \[--json\]" "$D/out"
run 0 ctl help
has "^  session  live media sessions: list, show$" "$D/out"

pr_log "a member without its hash (ended meanwhile) is skipped; a malformed record is reported"
rcli SADD pr:sessions 1234abcd-0 >/dev/null
run 0 ctl session list
[ "$(wc -l <"$D/out")" = 4 ] || pr_fail "an ended session was listed: $(cat "$D/out")"
S4=c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0-0
session "$S4" "$CALLID2" audio 0 $((NOW - 30)) \
	party dave family ip4 peer_addr 192.0.2.30 peer_port 40020 relay_addr 198.51.100.10 \
	relay_port 70000 profile RTP/SAVP suite AES_CM_128_HMAC_SHA1_80 key_rx "${KEYS[0]}" \
	key_tx "${KEYS[1]}" encrypted 1 \
	-- party erin family ip4 peer_addr 192.0.2.40 peer_port 40030 relay_addr 198.51.100.10 \
	relay_port 30020 profile RTP/AVP
run 1 ctl session list
[ "$(wc -l <"$D/out")" = 4 ] || pr_fail "the good sessions must still be listed: $(cat "$D/out")"
has "^poprelayctl: pr:session:$S4: .*a_.*relay_port.*\(not listed\)$" "$D/err"
run 1 ctl session show "$S4"
has "^poprelayctl: pr:session:$S4: .*relay_port" "$D/err"
rcli DEL "pr:session:$S4" >/dev/null
rcli SREM pr:sessions "$S4" 1234abcd-0 >/dev/null
rcli HSET "pr:session:$S1" a_kbps lots >/dev/null
run 0 ctl session show "$S1"
has "warning: session $S1: malformed a_kbps ignored" "$D/err"
rcli HSET "pr:session:$S1" a_kbps 64 >/dev/null

pr_log "audit trail"
run 0 ctl --json audit --count 200
python3 - "$D/out" "$S1" <<'EOF' || pr_fail "audit: $(cat "$D/out")"
import json, sys
e = json.load(open(sys.argv[1]))
s1 = sys.argv[2]
lists = [x for x in e if x["action"] == "session.list"]
reads = [x for x in e if x["action"] == "session.read"]
assert lists and all(x["object"] == "sessions" and x["actor"].startswith("ctl:") for x in lists), lists
assert any(x["detail"] == "count=3" and x["result"] == "ok" for x in lists), lists
assert any(x["object"] == "session:" + s1 and x["result"] == "ok" for x in reads), reads
assert any(x["object"] == "session:ffffffffffffffffffffffffffffffff-0" and x["result"] == "ENOENT"
           for x in reads), reads
assert any(x["object"].startswith("session:c0c0") and x["result"] == "EINVAL" for x in reads), reads
# one entry per read: 5 lists (table, 2 JSON, with an ended and with a malformed session),
# 9 shows (S1 S2 S3, S1 twice in JSON, the unknown id twice, S4, S1 again); none for a
# refused command line
assert len(lists) == 5 and len(reads) == 9, (len(lists), len(reads))
EOF
rcli XRANGE pr:audit - + >"$D/audit"
grep -qx session.list "$D/audit" && grep -qx session.read "$D/audit" || pr_fail "audit entries"
cat "$D/audit" >>"$OUT"

pr_log "a browser's leg: ICE-lite and DTLS-SRTP state, never the ice-pwd nor a DTLS key"
S5=d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7-0
ICEPWD=Pr1v8+ice/pwd/of/the/anchor/leg
DTLSKEYS=(Zm9yLXRoZS1yZWNvcmQtb25seS1kdGxzLWtleS1yeDAx Zm9yLXRoZS1yZWNvcmQtb25seS1kdGxzLWtleS10eDAy)
BFPR="sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3C:4F:8A:1D:13:7E:5F:08:E2:DD:0B:B1"
session "$S5" "$CALLID2" audio 0 $((NOW - 3)) \
	party webuser onnet 1 family ip4 peer_addr 192.0.2.50 peer_port 9 latch 1 \
	relay_addr 198.51.100.10 relay_port 30030 rtcp_mux 1 profile RTP/SAVP \
	suite AES_CM_128_HMAC_SHA1_80 encrypted 1 keying dtls dtls_setup passive \
	dtls_fingerprint "$BFPR" ice_ufrag Anch0rUfrag0001x ice_pwd "$ICEPWD" ice_remote_ufrag Brws \
	-- party bob onnet 1 family ip4 peer_addr 192.0.2.20 peer_port 40014 latch 1 \
	relay_addr 198.51.100.10 relay_port 30032 rtcp_mux 1 profile RTP/SAVP keying sdes \
	suite AES_CM_128_HMAC_SHA1_80 key_rx "${KEYS[0]}" key_tx "${KEYS[1]}" encrypted 1
figures "$S5" a 10 1720 0 0 0 0 0 0 1 - $((NOW - 1)) ""
run 0 ctl session show "$S5"
for l in "keying +dtls \(DTLS-SRTP handshake on the leg\)" "ice ufrag \(ours\) +Anch0rUfrag0001x" \
	"ice ufrag \(peer\) +Brws" "ice +not nominated yet" "bundle +no.*" \
	"dtls role \(ours\) +passive \(the peer sends the ClientHello\)" \
	"dtls peer fingerprint $BFPR" "dtls +not keyed yet \(handshake pending\)" \
	"keying +sdes \(keys from the SDP's a=crypto\)"; do
	has "^  $l$" "$D/out"
done
# nominated (the dataplane latched the leg) and keyed: the suite, never the keys
rcli HSET "pr:session:$S5" a_latched 192.0.2.50:51000 a_dtls_suite AEAD_AES_128_GCM \
	a_dtls_key_rx "${DTLSKEYS[0]}" a_dtls_key_tx "${DTLSKEYS[1]}" >/dev/null
run 0 ctl session show "$S5"
has "^  ice +nominated \(latched to 192\.0\.2\.50:51000\)$" "$D/out"
has "^  dtls +keyed \(AEAD_AES_128_GCM\)$" "$D/out"
run 0 ctl session show "$S5" --json
python3 - "$D/out" "$BFPR" <<'EOF' || pr_fail "show --json of a DTLS leg: $(cat "$D/out")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["a_keying"] == "dtls" and s["a_dtls_setup"] == "passive", s
assert s["a_dtls_fingerprint"] == sys.argv[2] and s["a_ice_ufrag"] == "Anch0rUfrag0001x", s
assert s["a_ice_remote_ufrag"] == "Brws" and s["a_dtls_suite"] == "AEAD_AES_128_GCM", s
assert s["a_ice_nominated"] is True and s["a_dtls_keyed"] is True, s
assert s["b_keying"] == "sdes" and s["b_ice_nominated"] is None and s["b_dtls_keyed"] is None, s
assert "a_ice_pwd" not in s and not [k for k in s if "key_" in k], s
EOF
run 0 ctl session list --json
rcli DEL "pr:session:$S5" >/dev/null
rcli SREM pr:sessions "$S5" >/dev/null

pr_log "no live session"
rcli DEL "pr:session:$S1" "pr:session:$S2" "pr:session:$S3" pr:sessions >/dev/null
run 0 ctl session list
[ "$(cat "$D/out")" = "no live media sessions" ] || pr_fail "empty list: $(cat "$D/out")"
run 0 ctl session list --json
python3 -c 'import json,sys; assert json.load(open(sys.argv[1])) == []' "$D/out" || pr_fail "empty --json"
run 1 ctl session show "$S1"

pr_log "redis not running"
run 3 "$CTL" -s "$D/nowhere.sock" session list
has "redis is not running" "$D/err"
run 3 "$CTL" -s "$D/nowhere.sock" session show "$S1"

pr_log "no key material, no X_streams in any output"
for s in "${KEYS[@]}" "${STREAMS[@]}" "${DTLSKEYS[@]}" "$ICEPWD" anchor/leg key_rx key_tx \
	ice_pwd _streams; do
	grep -qF -- "$s" "$OUT" && pr_fail "'$s' appeared in the output"
done
[ -s "$OUT" ] || pr_fail "no output captured"
pr_log "ctl_session: pass"
exit 0
