#!/usr/bin/env bash
# Redis commands per REGISTER, per call, per live session-second and per Allocate, and what
# one Redis primary carries on this machine (narrative: tests/bench/redis_cost.md; the
# "Past one box" part of docs/scaling.md is computed from it). JSON lines for
# tests/bench/run.sh; `BUILD=build-x tests/bench/redis_cost.sh` runs it alone.
# One Redis (unix socket, as pr_redis_start) on SRV_CPU serves in the same run:
#  - poprelay-slowpath (as tests/bench/sip.sh starts it) on SRV_CPU, driven by
#    tests/bench/sip/sipload on LOAD_CPU over TLS;
#  - poprelay-dataplane (net_af_packet on a veth in namespace rc-pop, huge = no, both lcores
#    on SRV_CPU) with [media] on the slowpath's relay address and ports (it installs and ends
#    every call's session from the stream) and [turn] (tests/bench/turn/allocgen, in rc-cli,
#    as tests/bench/turn_alloc.sh drives it).
# Counts are Redis's own: INFO commandstats deltas over a phase (the INFO itself left out),
# less the background (every command of an idle phase of IDLE seconds with everything up,
# per second, times the phase's length). Commands a Lua script runs are counted by Redis as
# commands (total_commands_processed counts them too), and so here; EVAL is in the notes.
# Phases: idle; REGISTER (NREG transactions on CONNS connections, each REGISTER/401/
# REGISTER/200); calls without the dataplane (NCALL chains INVITE/407/INVITE/200/ACK/BYE/200,
# the dataplane stopped: the slowpath's own cost) and with it (held HOLD_MS from the ACK to
# the BYE so that the dataplane installs each session first; the phase ends when the
# dataplane has applied every end); live sessions (LIVE calls held, their sessions'
# figures written every STATS_MS, WINDOW seconds counted); Allocates (ALLOC_SECS of
# allocgen). Then redis-benchmark (on LOAD_CPU, -c 50, BENCH_N requests, median of RUNS)
# against the same redis-server on its socket, a command at a time, for every command the
# counts show; each figure's note gives the rate of each of its commands, and the value is
# what the primary carries of that unit alone (1 / the sum of count / rate).
# Environment: NREG (3000), NCALL (1000), CONNS (32), HOLD_MS (250), LIVE (500), STATS_MS
# (1000), WINDOW (10, at most 15), IDLE (10), ALLOC_SECS (3), BENCH_N (200000), RUNS (3),
# RC_KEEP (a path: keep the phases' counts there, JSON lines).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$PR_ROOT/tests/integration/slowpath/common.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
BUILD=${BUILD:-build}
[ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] || pr_skip "needs 2 CPUs (the server side on one, the load on the other)"
command -v redis-benchmark >/dev/null || pr_skip "redis-benchmark not installed (redis-tools)"
DP=$BUILD/poprelay-dataplane
SP=$BUILD/poprelay-slowpath
CTL=$BUILD/poprelayctl
SIPLOAD=$BUILD/tests/bench/sipload
AGEN=$BUILD/tests/bench/turn/allocgen
for b in "$DP" "$SP" "$CTL" "$SIPLOAD" "$AGEN"; do [ -x "$b" ] || pr_fail "build first: $b"; done
NREG=${NREG:-3000}
NCALL=${NCALL:-1000}
CONNS=${CONNS:-32}
HOLD_MS=${HOLD_MS:-250}
LIVE=${LIVE:-500}
STATS_MS=${STATS_MS:-1000}
WINDOW=${WINDOW:-10}
[ "$WINDOW" -le 15 ] || pr_fail "WINDOW=$WINDOW: at most 15 (sipload ends a run after 30 s without a call done)"
IDLE=${IDLE:-10}
ALLOC_SECS=${ALLOC_SECS:-3}
BENCH_N=${BENCH_N:-200000}
RUNS=${RUNS:-3}
LOAD_CPU=0
SRV_CPU=1
PREFIX=rc-bench
RELAY=198.51.100.10
CLI=198.51.100.20
PW=Bench-pw-4711-sipload
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
tmp=$(pr_tmpdir)
pr_on_exit "rm -rf /var/run/dpdk/$PREFIX"
cp "$DP" "$SP" "$SIPLOAD" "$AGEN" "$tmp/"
DP=$tmp/poprelay-dataplane SP=$tmp/poprelay-slowpath SIPLOAD=$tmp/sipload AGEN=$tmp/allocgen
taskset -p -c $LOAD_CPU $$ >/dev/null

pr_redis_start "$tmp"
taskset -a -p -c $SRV_CPU "$(cat "$tmp/redis.pid")" >/dev/null
rcli() { redis-cli -s "$tmp/redis.sock" "$@"; }
pr_netns rc-pop
pr_netns rc-cli
pr_veth rc-pop rc0p rc-cli rc0c
ip netns exec rc-pop sysctl -qw net.ipv6.conf.rc0p.disable_ipv6=1
ip -n rc-cli addr add $CLI/24 dev rc0c
# allocgen's addresses: 100.64.0.0/24 local in rc-cli, routed to the dataplane through the veth
ip -n rc-cli route add local 100.64.0.0/24 dev lo
ip netns exec rc-cli sysctl -qw net.ipv4.ip_forward=1

cat >"$tmp/dp.conf" <<CONF
# tests/bench/redis_cost.sh
[global]
realm = poprelay
[eal]
lcores = 0@$SRV_CPU,1@$SRV_CPU
memory_mb = 256
huge = no
file_prefix = $PREFIX
log_level = 4
[dataplane]
mbuf_pool_size = 8191
worker_idle_sleep_us = 50
[redis]
socket = $tmp/redis.sock
[port0]
device = net_af_packet0,iface=rc0p,qpairs=2
ipv4 = $RELAY/24
gateway4 = $CLI
[media]
port_min = 20000
port_max = 39999
max_sessions = 16384
stats_interval_ms = $STATS_MS
session_idle_s = 3600
[turn]
relay_port_min = 40000
relay_port_max = 59999
max_allocations = 16384
max_allocations_per_user = 0
allowed_peer = 203.0.113.0/24
nonce_secret_file = $tmp/nonce.key
CONF
mstat() { $TEL $PREFIX /poprelay/media/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['/poprelay/media/stats']['$1'])"; }
dp_up() {
	ip netns exec rc-pop "$DP" -c "$tmp/dp.conf" >"$tmp/dp.out" 2>"$tmp/dp.log" &
	dp_pid=$!
	pr_on_exit "kill -9 $dp_pid 2>/dev/null"
	pr_wait_for 30 sh -c "$TEL $PREFIX /poprelay/media/stats | grep -q '\"redis_up\": 1'" ||
		{ tail -20 "$tmp/dp.log" >&2; pr_fail "the dataplane did not come up with the media anchor"; }
	pr_wait_for 30 $TEL $PREFIX /poprelay/turn/stats ||
		{ tail -20 "$tmp/dp.log" >&2; pr_fail "the dataplane did not come up with the turn feature"; }
}
dp_down() {
	kill "$dp_pid" 2>/dev/null || true
	wait "$dp_pid" 2>/dev/null || true
}

# the slowpath as tests/bench/sip.sh starts it, its relay address and ports the dataplane's
TP=$(sp_free_port)
PP=$(sp_free_port)
sp_certs "$tmp"
sp_config "$tmp" "$TP" "$PP" "digest_algorithms = MD5" "rate_limit_rps = 0" "lockout_failures = 1000" \
	"log_level = 5"
sed -i "s/^media_addr = .*/media_addr = $RELAY/; s/^media_ports = .*/media_ports = 20000-39999/" "$tmp/sp.conf"
NUSERS=$((LIVE > CONNS ? LIVE : CONNS))
python3 "$PR_ROOT/tests/integration/slowpath/users.py" "$PW" "$NUSERS" | rcli >/dev/null || pr_fail "creating the users"
sp_user_add "$tmp" callee "$PW"
printf '%s\n' "$PW" | "$CTL" -c "$tmp/dp.conf" user add alice >/dev/null || pr_fail "poprelayctl user add alice"
taskset -c $SRV_CPU "$SP" -c "$tmp/sp.conf" >"$tmp/sp.log" 2>&1 &
sp_pid=$!
pr_on_exit "kill $sp_pid 2>/dev/null"
pr_wait_for 5 grep -q "listening:" "$tmp/sp.log" || { cat "$tmp/sp.log" >&2; pr_fail "slowpath did not start"; }
taskset -c $LOAD_CPU "$SIPLOAD" callee 127.0.0.1 "$TP" "$tmp/ca.crt" callee "$PW" >"$tmp/callee.log" 2>&1 &
callee_pid=$!
pr_on_exit "kill $callee_pid 2>/dev/null"
pr_wait_for 10 grep -q registered "$tmp/callee.log" || { cat "$tmp/callee.log" >&2; pr_fail "callee did not register"; }
dp_up

# snap NAME: Redis's commandstats now, into $tmp/NAME.snap, and the time
snap() { { date +%s.%N; rcli INFO commandstats; } >"$tmp/$1.snap"; }
# phase NAME FROM TO UNITS: a record of the commands between two snapshots, less the
# background, per unit, into $tmp/phases.jsonl
phase() {
	python3 - "$tmp" "$@" <<'PY' >>"$tmp/phases.jsonl"
import json, os, re, sys
tmp, name, a, b, units = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
def load(n):
    lines = open(os.path.join(tmp, n + ".snap")).read().split("\n")
    c = {m.group(1): int(m.group(2)) for m in
         (re.match(r"cmdstat_([^:]+):calls=(\d+)", l) for l in lines) if m}
    c.pop("info", None)
    return float(lines[0]), c
(t0, c0), (t1, c1) = load(a), load(b)
secs = t1 - t0
bg = {}
p = os.path.join(tmp, "bg.json")
if name != "idle" and os.path.exists(p):
    bg = json.load(open(p))
d = {k: c1.get(k, 0) - c0.get(k, 0) - bg.get(k, 0) * secs for k in set(c0) | set(c1) | set(bg)}
if name == "idle":
    json.dump({k: v / secs for k, v in d.items()}, open(p, "w"))
per = {k: round(v / units, 3) for k, v in sorted(d.items()) if abs(v / units) >= 0.005}
print(json.dumps({"phase": name, "secs": round(secs, 2), "units": units,
                  "raw": sum(c1.get(k, 0) - c0.get(k, 0) for k in set(c0) | set(c1)),
                  "total": round(sum(d.values()) / units, 3), "per": per}))
PY
	pr_log "phase $1: $(tail -1 "$tmp/phases.jsonl")"
}
acked() { # the dataplane has applied every stream entry it read
	[ "$(rcli XPENDING pr:sessions:stream "$(rcli XINFO GROUPS pr:sessions:stream | sed -n '2p')" | head -1)" = 0 ]
}
settled() { [ "$(rcli SCARD pr:sessions)" = 0 ] && acked; }

# ---- idle: the background of every process, per second
sleep 2
snap i0
sleep "$IDLE"
snap i1
phase idle i0 i1 "$IDLE"

# ---- REGISTER transactions
snap r0
out=$(taskset -c $LOAD_CPU "$SIPLOAD" register 127.0.0.1 "$TP" "$tmp/ca.crt" "$PW" "$NUSERS" "$NREG" "$CONNS" 2>"$tmp/load.err") ||
	{ cat "$tmp/load.err" >&2; pr_fail "sipload register failed"; }
snap r1
pr_log "REGISTER: $out"
phase register r0 r1 "$NREG"

# ---- calls, the slowpath alone (the dataplane stopped), then with the dataplane
dp_down
sleep 1
snap c0
out=$(taskset -c $LOAD_CPU "$SIPLOAD" call 127.0.0.1 "$TP" "$tmp/ca.crt" "$PW" "$NUSERS" "$NCALL" "$CONNS" 2>"$tmp/load.err") ||
	{ tail "$tmp/load.err" "$tmp/sp.log" >&2; pr_fail "sipload call (slowpath alone) failed"; }
pr_wait_for 10 sh -c "[ \"\$(redis-cli -s $tmp/redis.sock SCARD pr:sessions)\" = 0 ]" || pr_fail "sessions left after the calls"
snap c1
pr_log "calls, slowpath alone: $out"
# the background of this phase is the slowpath's alone: the idle phase's less the
# dataplane's, which are its stream polls (XREADGROUP) and its heartbeats; measured again
cp "$tmp/bg.json" "$tmp/bg.all.json"
snap j0
sleep "$IDLE"
snap j1
mv "$tmp/phases.jsonl" "$tmp/phases.keep"
phase idle j0 j1 "$IDLE"
mv "$tmp/phases.keep" "$tmp/phases.jsonl"
phase call_slowpath c0 c1 "$NCALL"
cp "$tmp/bg.all.json" "$tmp/bg.json"
# the stream the stopped dataplane did not read: gone, so that its next start has nothing
# of it to apply
rcli DEL pr:sessions:stream >/dev/null
dp_up
sleep 2
inst0=$(mstat installs)
snap d0
out=$(taskset -c $LOAD_CPU "$SIPLOAD" -H "$HOLD_MS" call 127.0.0.1 "$TP" "$tmp/ca.crt" "$PW" "$NUSERS" "$NCALL" "$CONNS" 2>"$tmp/load.err") ||
	{ tail "$tmp/load.err" "$tmp/sp.log" >&2; pr_fail "sipload call (with the dataplane) failed"; }
pr_wait_for 20 settled || pr_fail "the dataplane did not apply every end ($(rcli SCARD pr:sessions) sessions left)"
snap d1
inst=$(($(mstat installs) - inst0))
pr_log "calls with the dataplane: $out; $inst sessions installed"
[ "$inst" -ge "$NCALL" ] || pr_fail "the dataplane installed $inst sessions for $NCALL calls: make HOLD_MS longer"
phase call d0 d1 "$NCALL"

# ---- live sessions: LIVE calls held, each session's figures written every STATS_MS
# (sipload gives up after 30 s without a call done: WINDOW up to 15)
hold=$(((WINDOW + 12) * 1000))
taskset -c $LOAD_CPU "$SIPLOAD" -H "$hold" call 127.0.0.1 "$TP" "$tmp/ca.crt" "$PW" "$NUSERS" "$LIVE" "$LIVE" \
	>"$tmp/live.out" 2>"$tmp/live.err" &
live_pid=$!
pr_on_exit "kill $live_pid 2>/dev/null"
pr_wait_for 20 sh -c "[ \"\$($TEL $PREFIX /poprelay/media/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"/poprelay/media/stats\"][\"sessions\"])')\" -ge $LIVE ]" ||
	{ tail "$tmp/live.err" >&2; pr_fail "not $LIVE live sessions on the dataplane ($(mstat sessions))"; }
sleep 2
snap s0
sleep "$WINDOW"
snap s1
[ "$(mstat sessions)" -ge "$LIVE" ] || pr_fail "live sessions ended within the window: $(mstat sessions)"
pr_log "live: $LIVE sessions over $WINDOW s"
phase live s0 s1 "$((LIVE * WINDOW))"
wait "$live_pid" || { tail "$tmp/live.err" >&2; pr_fail "the held calls failed"; }
pr_wait_for 20 settled || pr_fail "the held calls' sessions did not end"

# ---- Allocates (each: Allocate 401, Allocate, success, Refresh 0, success)
snap a0
aout=$(ip netns exec rc-cli taskset -c $LOAD_CPU "$AGEN" --server $RELAY:3478 --src 100.64.0.1 \
	--nsrc 250 --sockets 100 --user alice --pass "$PW" --secs "$ALLOC_SECS" --warmup 0 2>"$tmp/gen.err") ||
	{ cat "$tmp/gen.err" >&2; pr_fail "allocgen failed"; }
sleep 1
snap a1
nalloc=$(python3 -c "import json; print(json.loads('$aout')['total_allocates'])")
pr_log "allocates: $aout"
[ "$nalloc" -gt 0 ] || pr_fail "no allocate succeeded"
phase allocate a0 a1 "$nalloc"
cp "$tmp/phases.jsonl" "${RC_KEEP:-/dev/null}" 2>/dev/null || true

# ---- the primary's capacity: redis-benchmark against the same redis-server, everything
# else stopped, each command the counts show (MULTI and EXEC: PING's rate, as they do no
# work of their own; EVAL: a script's call alone, "return 0", as the commands a script runs
# are counted at their own rates)
kill "$callee_pid" "$sp_pid" 2>/dev/null || true
wait "$callee_pid" "$sp_pid" 2>/dev/null || true
dp_down
rcli XGROUP CREATE rb:x g '$' MKSTREAM >/dev/null
F="f1 v1 f2 v2 f3 v3 f4 v4 f5 v5 f6 v6 f7 v7 f8 v8 f9 v9 f10 v10 n 1"
# name|arguments, in this order: the writes first make the keys the reads and deletes find
BENCH=(
	"ping|PING"
	"hset|HSET rb:h:__rand_int__ $F"
	"hgetall|HGETALL rb:h:__rand_int__"
	"hget|HGET rb:h:__rand_int__ f1"
	"hmget|HMGET rb:h:__rand_int__ f1 f2 f3 f4"
	"hincrby|HINCRBY rb:h:__rand_int__ n 1"
	"exists|EXISTS rb:h:__rand_int__"
	"expire|EXPIRE rb:h:__rand_int__ 3600"
	"expireat|EXPIREAT rb:h:__rand_int__ 4102444800"
	"zadd|ZADD rb:z __rand_int__ m:__rand_int__"
	"zrem|ZREM rb:z m:__rand_int__"
	"zremrangebyscore|ZREMRANGEBYSCORE rb:z -inf 0"
	"sadd|SADD rb:s m:__rand_int__"
	"srem|SREM rb:s m:__rand_int__"
	"spop|SPOP rb:s"
	"xadd|XADD rb:x MAXLEN ~ 10000 * op install id __rand_int__ $F"
	"xreadgroup|XREADGROUP GROUP g c COUNT 64 STREAMS rb:x >"
	"xack|XACK rb:x g 0-1"
	"eval|EVAL return(0) 0"
	"del|DEL rb:h:__rand_int__"
)
: >"$tmp/bench.txt"
# redis-server's share of its CPU over the benchmark: near 1, the primary is the bound; well
# below, the client (one thread on the other CPU) is, and the rates are lower bounds
rticks() { awk '{print $14 + $15}' "/proc/$(cat "$tmp/redis.pid")/stat"; }
rt0=$(rticks) bt0=$(date +%s.%N)
for r in $(seq "$RUNS"); do
	for b in "${BENCH[@]}"; do
		name=${b%%|*}
		read -ra args <<<"${b#*|}"
		rps=$(taskset -c $LOAD_CPU redis-benchmark -s "$tmp/redis.sock" -c 50 -n "$BENCH_N" -r 100000 --csv \
			"${args[@]}" 2>/dev/null | python3 -c "import csv,sys; r=list(csv.reader(sys.stdin)); print(r[-1][1])") ||
			pr_fail "redis-benchmark $name failed"
		echo "$name $rps" >>"$tmp/bench.txt"
	done
	pr_log "redis-benchmark run $r: $(tail -${#BENCH[@]} "$tmp/bench.txt" | paste -sd' ')"
done
rshare=$(python3 -c "print(round(($(rticks) - $rt0) / (($(date +%s.%N) - $bt0) * $(getconf CLK_TCK)), 2))")

python3 - "$tmp/phases.jsonl" "$tmp/bench.txt" "$STATS_MS" "$HOLD_MS" "$RUNS" "$BENCH_N" \
	"$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')" "$CONNS" "$LIVE" "$rshare" <<'PY'
import json, statistics, sys
ph = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    ph[r["phase"]] = r
stats_ms, hold_ms, runs, bench_n, ver, conns, live, rshare = sys.argv[3:11]
rates = {}
for l in open(sys.argv[2]):
    k, v = l.split()
    rates.setdefault(k, []).append(float(v))
rate = {k: statistics.median(v) for k, v in rates.items()}
rate["multi"] = rate["exec"] = rate["ping"]
# the commands of a unit that count (noise of the background's subtraction left out)
def mix(p):
    return {k: v for k, v in ph[p]["per"].items() if v >= 0.05}
def fmt(m):
    return ", ".join(f"{k.upper()} {v:g}" for k, v in sorted(m.items(), key=lambda kv: -kv[1]))
def carry(p):  # units a second the primary carries of this unit alone
    return 1 / sum(n / rate[k] for k, n in mix(p).items())
missing = {k for p in ph for k in mix(p) if p != "idle" and k not in rate}
if missing:
    sys.exit(f"redis_cost: no redis-benchmark rate for {sorted(missing)}")
n = lambda p: round(sum(mix(p).values()), 1)
bg = ph["idle"]["per"]
shared = "shared, noisy machine: counts are exact (Redis's INFO commandstats deltas, less the idle background), rates are not"
out = []
out.append({"name": "redis_cmds_per_register", "value": n("register"), "unit": "Redis commands/REGISTER transaction",
    "baseline": None, "baseline_value": None,
    "note": f"sipload register over TLS, {conns} connections, digest MD5; a transaction is REGISTER, 401, "
            f"REGISTER with credentials, 200, counted per 200 (the 401 round included); "
            f"{int(ph['register']['units'])} transactions: {fmt(mix('register'))}; {shared}"})
dp_only = {k: round(mix("call").get(k, 0) - mix("call_slowpath").get(k, 0), 2) for k in mix("call")}
dp_only = {k: v for k, v in dp_only.items() if v >= 0.05}
out.append({"name": "redis_cmds_per_call", "value": n("call"), "unit": "Redis commands/call",
    "baseline": "the slowpath alone (dataplane stopped), same run", "baseline_value": n("call_slowpath"),
    "note": f"sipload call over TLS (INVITE, 407, INVITE with credentials, 200, ACK, BYE, 200), the "
            f"media anchor (poprelay-dataplane [media], huge = no) installing each call's session "
            f"and ending it, calls held {hold_ms} ms; slowpath: {fmt(mix('call_slowpath'))}; "
            f"the dataplane adds: {fmt(dp_only)} (HINCRBY: the session's figures into the CDR at its "
            f"end; EVAL with its EXISTS and HSET: figures written every {stats_ms} ms, about "
            f"{int(hold_ms) / int(stats_ms):.2f} of them in a {hold_ms} ms call, and the last); the "
            f"dataplane's stream reads are not per call but {bg.get('xreadgroup', 0):.0f}/s per "
            f"dataplane, busy or idle; {shared}"})
out.append({"name": "redis_cmds_per_session_s", "value": round(sum(mix("live").values()), 2),
    "unit": "Redis commands/live session/s", "baseline": None, "baseline_value": None,
    "note": f"{live} live sessions of held calls, counted over "
            f"{ph['live']['secs']:.0f} s with [media] stats_interval_ms = {stats_ms}: {fmt(mix('live'))} "
            f"(one EVAL a session a write: EXISTS then HSET of its figures, in MULTI/EXEC of up to 128 "
            f"sessions); scales with 1000 / stats_interval_ms; {shared}"})
out.append({"name": "redis_cmds_per_allocate", "value": n("allocate"), "unit": "Redis commands/Allocate",
    "baseline": None, "baseline_value": None,
    "note": f"tests/bench/turn/allocgen against the same dataplane's [turn], each chain Allocate, 401, "
            f"Allocate, success, Refresh 0, success (the delete included); "
            f"{int(ph['allocate']['units'])} allocates: {fmt(mix('allocate'))}; {shared}"})
# the primary: commands a second for the call mix, next to PING's
callmix = mix("call")
ops = sum(callmix.values()) * carry("call")
units = {"register": ("REGISTER transactions/s", carry("register")),
         "call": ("calls/s (with the anchor's install and end)", carry("call")),
         "live": ("live session-seconds/s (sessions)", carry("live")),
         "allocate": ("allocates/s", carry("allocate"))}
rates_txt = ", ".join(f"{k.upper()} {rate[k]:.0f}" for k in sorted(rate) if k in rates or k == "ping")
out.append({"name": "redis_primary_ops_per_s", "value": round(ops),
    "unit": "Redis commands/s, the call mix, one primary",
    "baseline": "PING, redis-benchmark, same server, same run", "baseline_value": round(rate["ping"]),
    "note": f"redis-server {ver} on a unix socket pinned to CPU 1 (no persistence, as the bench's), "
            f"redis-benchmark on CPU 0, 50 connections, no pipelining, {bench_n} requests a command, "
            f"median of {runs} runs (redis-server busy {rshare} of its CPU over them: near 1, the "
            f"primary is the bound; below, the client is and these are lower bounds); each command's rate: {rates_txt} (MULTI and EXEC at PING's; "
            f"EVAL: a script's call alone); the primary alone carries "
            + "; ".join(f"{v:.0f} {u}" for u, v in units.values())
            + f" (1 / the sum of each command's count over its rate); {shared}"})
for o in out:
    print(json.dumps(o))
PY
