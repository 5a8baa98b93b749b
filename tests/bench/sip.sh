#!/usr/bin/env bash
# SIP over TLS on one core: REGISTER transactions (with digest) per second and call setups
# (INVITE/407/INVITE/200/ACK/BYE/200, digest on the INVITE) per second, poprelay-slowpath
# next to Debian's kamailio (TLS module, registrar, in-memory location) in the same run.
# Each server is pinned to CPU 1; the load (tests/bench/sip/sipload.c: SIP_BENCH_CONNS TLS
# connections, one transaction chain in flight on each, and its registered callee) runs on
# CPU 0. Medians of SIP_BENCH_RUNS runs (default 3), each run measuring both servers back to
# back; the ratio is the median of the runs' ratios. Debian's sipp is built without TLS,
# hence our own load client, used the same way against both servers.
# The storm: SIP_BENCH_STORM_N (10,000) devices, each on a new TLS connection from an
# address of its own, register once (sipload storm: non-blocking handshakes, at most
# SIP_BENCH_STORM_WINDOW under way); the figure is the seconds from the first connect to
# the last 200, median of SIP_BENCH_STORM_RUNS (default SIP_BENCH_RUNS).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
H=$PR_ROOT/tests/bench/sip
RUNS=${SIP_BENCH_RUNS:-3}
NREG=${SIP_BENCH_REGISTERS:-3000}
NCALL=${SIP_BENCH_CALLS:-1500}
CONNS=${SIP_BENCH_CONNS:-32}
STORM_N=${SIP_BENCH_STORM_N:-10000}
STORM_W=${SIP_BENCH_STORM_WINDOW:-500}
STORM_RUNS=${SIP_BENCH_STORM_RUNS:-$RUNS}
LOAD=$BUILD/tests/bench/sipload
[ -x "$LOAD" ] || pr_fail "build $LOAD first (make build)"
command -v kamailio >/dev/null || pr_skip "kamailio not installed"
[ -x "$BUILD/poprelay-slowpath" ] || pr_fail "build $BUILD/poprelay-slowpath first"
LOAD_CPU=0
SRV_CPU=$(($(nproc) > 1 ? 1 : 0))

D=$(mktemp -d /tmp/sp-bench.XXXXXX)
pr_on_exit "rm -rf '$D'"
pr_redis_start "$D"
sp_certs "$D"
PW=Bench-pw-4711-sipload
NUSERS=50
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# run_load register|call PORT N: prints the completed chains per second
run_load() {
	local out
	out=$(taskset -c $LOAD_CPU "$LOAD" "$1" 127.0.0.1 "$2" "$D/ca.crt" "$PW" "$NUSERS" "$3" "$CONNS" 2>"$D/load.err") ||
		{ cat "$D/load.err" >&2; echo 0; return 1; }
	echo "${out##* }"
}

# run_storm PORT: prints the seconds until STORM_N new devices are all registered
run_storm() {
	local out
	out=$(taskset -c $LOAD_CPU "$LOAD" storm 127.0.0.1 "$1" "$D/ca.crt" "$PW" "$STORM_N" "$STORM_N" \
		"$STORM_W" 2>"$D/load.err") || { cat "$D/load.err" >&2; echo 0; return 1; }
	read -r _ secs _ <<<"$out"
	echo "$secs"
}

# start_callee PORT: the registered callee for the call benchmark
start_callee() {
	taskset -c $LOAD_CPU "$LOAD" callee 127.0.0.1 "$1" "$D/ca.crt" callee "$PW" >"$D/callee.$1.log" 2>&1 &
	local pid=$!
	pr_on_exit "kill $pid 2>/dev/null"
	pr_wait_for 10 grep -q registered "$D/callee.$1.log" || { cat "$D/callee.$1.log" >&2; pr_fail "callee did not register"; }
}

# ---- poprelay-slowpath
TP=$(sp_free_port)
PP=$(sp_free_port)
sp_config "$D" "$TP" "$PP" "digest_algorithms = MD5" "rate_limit_rps = 0" "lockout_failures = 1000" \
	"log_level = 5"
sed -i 's/^media_ports = .*/media_ports = 20000-29999/' "$D/sp.conf"
for i in $(seq 0 $((NUSERS - 1))); do sp_user_add "$D" "user$i" "$PW"; done
# the storm's devices: user0..user{STORM_N-1}, straight into Redis (poprelayctl per user
# would take minutes); the same records poprelayctl writes
python3 "$PR_ROOT/tests/integration/slowpath/users.py" "$PW" "$STORM_N" "$NUSERS" | redis-cli -s "$D/redis.sock" >/dev/null || pr_fail "creating the storm's users"
sp_user_add "$D" callee "$PW"
taskset -c $SRV_CPU "$BUILD/poprelay-slowpath" -c "$D/sp.conf" >"$D/sp.log" 2>&1 &
SP=$!
pr_on_exit "kill $SP 2>/dev/null"
pr_wait_for 5 grep -q "listening:" "$D/sp.log" || { cat "$D/sp.log" >&2; pr_fail "slowpath did not start"; }
# keep Redis on the load CPU so the slowpath's core is its own
taskset -pc $LOAD_CPU "$(cat "$D/redis.pid")" >/dev/null
start_callee "$TP"

# ---- kamailio
KP=$(sp_free_port)
sed -e "s#@TLS_PORT@#$KP#; s#@DIR@#$D#; s#@PASSWORD@#$PW#" "$H/kamailio.cfg.in" >"$D/kamailio.cfg"
cat >"$D/kamailio-tls.cfg" <<TLS
[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = $D/server.key
certificate = $D/server.crt
[client:default]
method = TLSv1.2+
verify_certificate = no
TLS
mkdir -p "$D/kam"
taskset -c $SRV_CPU kamailio -f "$D/kamailio.cfg" -DD -E -Y "$D/kam" -P "$D/kam/kamailio.pid" \
	-m 1024 -M 16 -w "$D/kam" >"$D/kamailio.log" 2>&1 &
KAM=$!
pr_on_exit "kill $KAM 2>/dev/null; sleep 0.5; pkill -P $KAM 2>/dev/null"
pr_wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $KP), 1)" ||
	{ tail -20 "$D/kamailio.log" >&2; pr_fail "kamailio did not start"; }
start_callee "$KP"
# Interleaved: the machine's speed drifts (other work shares it), so each run measures the
# slowpath and kamailio back to back and the figure's ratio is the median of those pairs'.
# Both servers stay up; only the one under load uses CPU 1.
sp_reg=() sp_call=() sp_storm=() k_reg=() k_call=() k_storm=()
for r in $(seq "$RUNS"); do
	sp_reg+=("$(run_load register "$TP" "$NREG")") || pr_fail "slowpath REGISTER run failed"
	k_reg+=("$(run_load register "$KP" "$NREG")") || pr_fail "kamailio REGISTER run failed"
	sp_call+=("$(run_load call "$TP" "$NCALL")") || pr_fail "slowpath call run failed"
	k_call+=("$(run_load call "$KP" "$NCALL")") ||
		{ tail -n 20 "$D/kamailio.log" "$D/callee.$KP.log" "$D/load.err" >&2; pr_fail "kamailio call run failed"; }
done
[ "$(redis-cli -s "$D/redis.sock" SCARD pr:sessions)" = 0 ] || pr_fail "sessions left after the call bench"
for r in $(seq "$STORM_RUNS"); do
	sp_storm+=("$(run_storm "$TP")") || pr_fail "slowpath storm run failed"
	k_storm+=("$(run_storm "$KP")") || { tail -n 20 "$D/kamailio.log" >&2; pr_fail "kamailio storm run failed"; }
done
[ "$(redis-cli -s "$D/redis.sock" ZCARD pr:regs)" -ge "$STORM_N" ] || pr_fail "not $STORM_N bindings after the storm"

pr_log "slowpath REGISTER/s: ${sp_reg[*]}  calls/s: ${sp_call[*]}"
pr_log "kamailio REGISTER/s: ${k_reg[*]}  calls/s: ${k_call[*]}"
pr_log "storm of $STORM_N new TLS devices, seconds: slowpath ${sp_storm[*]}  kamailio ${k_storm[*]}"
base="kamailio $(kamailio -v 2>/dev/null | sed -n 's/^version: kamailio \([^ ]*\).*/\1/p') (TLS, registrar, in-memory location, stateful proxy)"
# figure NAME UNIT ours[] theirs[]: medians of each and the median of the pairs' ratios
figure() {
	local name=$1 unit=$2 n=$3
	shift 3
	local -a ours theirs ratios
	local i
	ours=("${@:1:n}")
	theirs=("${@:n+1:n}")
	for ((i = 0; i < n; i++)); do
		ratios+=("$(awk -v a="${ours[i]}" -v b="${theirs[i]}" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')")
	done
	printf '{"name":"%s","value":%s,"unit":"%s","baseline":"%s","baseline_value":%s,"ratio":%s}\n' \
		"$name" "$(printf '%s\n' "${ours[@]}" | median)" "$unit" "$base" \
		"$(printf '%s\n' "${theirs[@]}" | median)" "$(printf '%s\n' "${ratios[@]}" | median)"
}
figure sip_tls_register_per_s "REGISTER transactions/s (digest, 1 core)" "$RUNS" "${sp_reg[@]}" "${k_reg[@]}"
figure sip_tls_call_setups_per_s "calls/s INVITE-200-ACK-BYE (digest, 1 core)" "$RUNS" "${sp_call[@]}" "${k_call[@]}"
figure sip_register_storm_10k_s "s until $STORM_N devices on new TLS connections are registered (1 core)" \
	"$STORM_RUNS" "${sp_storm[@]}" "${k_storm[@]}"
