#!/usr/bin/env bash
# Redis under Sentinel (issue 20): what WAIT costs a REGISTER, and what a kill -9 of the
# Redis primary in the middle of a registration storm loses. One run, on 127.0.0.1: a
# primary, one replica and three sentinels (redis-server --sentinel, the ACL users of
# tests/integration/redis_sentinel.sh), all on CPU 0 with the load client; two slowpaths on
# CPU 1, both configured with the sentinels ([redis] sentinels, master_name), one with
# wait_replicas = 1 and one with wait_replicas = 0 (wait_timeout_ms as shipped, 1000).
# 1. ha_write_cost: REGISTER transactions/s (digest, TLS: sipload register, as the sip
#    bench's figure) through the slowpath with WAIT against the one without, back to back,
#    HA_BENCH_RUNS pairs (default 5, the order alternating); the ratio is the median of the
#    pairs' ratios. The note adds the slowpath's CPU per REGISTER (its utime + stime over
#    the run), which a busy machine moves less than the rate.
# 2. ha_redis_failover_acked_lost: HA_BENCH_STORM_N (10,000) devices, each on a new TLS
#    connection, register once through the WAIT slowpath (sipload storm, no retries, every
#    200 written to a file with the device's address); sipload itself kills (-9) the Redis
#    primary right after the HA_BENCH_KILL_AT-th 200 (default half the storm); the
#    sentinels promote the replica and the slowpath follows. When every device has its
#    answer, each acknowledged device's binding is read on the promoted primary
#    (pr:reg:<user>, its contact naming the device's address): the figure is how many are
#    missing, median of HA_BENCH_FAILOVERS failovers (default 5). Between failovers the
#    killed node comes back as a replica of the new primary (its data gone: no
#    persistence, a full resynchronisation) and the bindings are deleted.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
source "$PR_ROOT/tests/integration/slowpath/common.sh"
RUNS=${HA_BENCH_RUNS:-5}
NREG=${HA_BENCH_REGISTERS:-5000}
CONNS=${HA_BENCH_CONNS:-32}
STORM_N=${HA_BENCH_STORM_N:-10000}
STORM_W=${HA_BENCH_STORM_WINDOW:-500}
FAILOVERS=${HA_BENCH_FAILOVERS:-5}
KILL_AT=${HA_BENCH_KILL_AT:-$((STORM_N / 2))}
# the slowpath the storm goes through: 1 (WAIT, the figure) or 0 (no WAIT: what the check
# finds without it; a development aid, not recorded)
STORM_WAIT=${HA_BENCH_STORM_WAIT:-1}
NUSERS=50
LOAD=$BUILD/tests/bench/sipload
for c in redis-server redis-cli taskset python3 openssl; do
	command -v $c >/dev/null || pr_skip "$c not installed"
done
[ -x "$LOAD" ] || pr_skip "$LOAD not built (make build)"
[ -x "$BUILD/poprelay-slowpath" ] || pr_skip "$BUILD/poprelay-slowpath not built (make build)"
[ "$STORM_N" -ge "$NUSERS" ] || pr_fail "HA_BENCH_STORM_N must be at least $NUSERS"
[ "$KILL_AT" -ge 1 ] && [ "$KILL_AT" -lt "$STORM_N" ] || pr_fail "HA_BENCH_KILL_AT must be in 1..$((STORM_N - 1))"
LOAD_CPU=0
SRV_CPU=$(($(nproc) > 1 ? 1 : 0))

D=$(mktemp -d /tmp/hb-bench.XXXXXX)
pr_on_exit "rm -rf '$D'"
# HA_BENCH_KEEP=DIR: the logs (slowpaths, Redis nodes, sentinels, sipload) copied there
[ -n "${HA_BENCH_KEEP:-}" ] && pr_on_exit "mkdir -p '$HA_BENCH_KEEP' && cd '$D' && cp --parents *.log *.err *.out n?/*.log s?/*.log '$HA_BENCH_KEEP'"
chmod 755 "$D"
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }

# ---- Redis: a primary and a replica, three sentinels (tests/integration/ha/sentinels.sh),
# all on CPU 0; no persistence: a killed node comes back empty
P1=$(sp_free_port); P2=$(sp_free_port)
S1=$(sp_free_port); S2=$(sp_free_port); S3=$(sp_free_port)
RS_CPU=$LOAD_CPU
source "$PR_ROOT/tests/integration/ha/sentinels.sh"
rs_secrets "$D/redis-slowpath.pass"
port_of() { eval echo "\$P$1"; }
rc() { rs_cli "$@"; }
node() { rs_node "$1" "$(port_of "$1")" ${2:+"$2"}; } # node N [PRIMARY_PORT]
linked() { rs_linked "$1"; }
rs_node 1 "$P1"
rs_node 2 "$P2" "$P1"
linked "$P2"
rs_sentinels "$P1" "$S1" "$S2" "$S3"
primary_port() { rs_primary_port; }
sentinels_ready() { rs_sentinels_ready; }

# user0..user{STORM_N-1} (the REGISTER runs use the first NUSERS), the records poprelayctl
# writes, straight into the primary
PW=Bench-pw-4711-sipload
python3 "$PR_ROOT/tests/integration/slowpath/users.py" "$PW" "$STORM_N" | rc "$P1" >/dev/null || pr_fail "creating the users"
rc "$P1" WAIT 1 5000 | grep -qx 1 || pr_fail "the users did not reach the replica"

# ---- two slowpaths on CPU 1: wait_replicas 1 and 0, otherwise the same
sp_certs "$D"
# slowpath W PORT_VAR: starts the slowpath with wait_replicas W; its TLS port in SPW_PORT
slowpath() {
	local w=$1 tp pp
	tp=$(sp_free_port); pp=$(sp_free_port)
	sp_config "$D" "$tp" "$pp" "digest_algorithms = MD5" "rate_limit_rps = 0" "lockout_failures = 1000" \
		"redis_user = slowpath" "redis_password_file = $D/redis-slowpath.pass"
	sed -i "s|^socket = .*|sentinels = 127.0.0.1:$S1, 127.0.0.1:$S2, 127.0.0.1:$S3\nmaster_name = poprelay\nwait_replicas = $w|" "$D/sp.conf"
	mv "$D/sp.conf" "$D/sp$w.conf"
	taskset -c $SRV_CPU "$BUILD/poprelay-slowpath" -c "$D/sp$w.conf" >"$D/sp$w.log" 2>&1 &
	local pid=$!
	pr_on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
	pr_wait_for 10 grep -q "listening:" "$D/sp$w.log" || { cat "$D/sp$w.log" >&2; pr_fail "slowpath (wait_replicas $w) did not start"; }
	grep -q "primary of poprelay is 127.0.0.1:$P1" "$D/sp$w.log" ||
		{ cat "$D/sp$w.log" >&2; pr_fail "slowpath (wait_replicas $w) did not find the primary through the sentinels"; }
	eval "TP$w=$tp SP${w}_PID=$pid"
}
slowpath 1
slowpath 0

# ---- 1. the cost of WAIT
# run_reg W: "REGISTER/s CPU-us-per-REGISTER" through slowpath W (sipload register, NUSERS
# users, CONNS connections; the slowpath's CPU from /proc)
run_reg() {
	local out n secs rate cpu tp pid
	tp=$(eval echo "\$TP$1") pid=$(eval echo "\$SP${1}_PID")
	out=$(taskset -c $LOAD_CPU "$LOAD" -p "/proc/$pid/stat" register 127.0.0.1 "$tp" "$D/ca.crt" "$PW" \
		"$NUSERS" "$NREG" "$CONNS" 2>"$D/load.err") || { cat "$D/load.err" >&2; echo 0 0; return 1; }
	read -r n secs rate cpu _ <<<"$out"
	echo "$rate $(awk -v c="$cpu" -v n="$n" 'BEGIN { printf "%.1f", c * 1e6 / n }')"
}
w1=() w0=() wr=() c1=() c0=()
for r in $(seq "$RUNS"); do
	if [ $((r % 2)) = 1 ]; then
		read -r a ca < <(run_reg 1) && [ "$a" != 0 ] || pr_fail "REGISTER run with WAIT failed"
		read -r b cb < <(run_reg 0) && [ "$b" != 0 ] || pr_fail "REGISTER run without WAIT failed"
	else
		read -r b cb < <(run_reg 0) && [ "$b" != 0 ] || pr_fail "REGISTER run without WAIT failed"
		read -r a ca < <(run_reg 1) && [ "$a" != 0 ] || pr_fail "REGISTER run with WAIT failed"
	fi
	w1+=("$a") w0+=("$b") c1+=("$ca") c0+=("$cb")
	wr+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')")
done
# the bound WAIT puts on one connection: 20,000 SET + WAIT 1 pipelined by redis-cli on CPU 1
# (Redis runs them one after another: each WAIT holds its client for a replica round trip),
# against the same without WAIT; median of 3 each
pipe_rate() { # pipe_rate FILE: commands' pairs per second through redis-cli --pipe
	local t0 t1
	t0=$(now)
	taskset -c $SRV_CPU redis-cli -p "$P1" --no-auth-warning --user admin --pass "$ADMIN_PW" --pipe <"$1" >/dev/null || return 1
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", 20000 / (b - a) }'
}
python3 -c "
for i in range(20000): print('SET hb:wait x'); print('WAIT 1 1000')" >"$D/pipe.wait"
python3 -c "
for i in range(20000): print('SET hb:wait x'); print('PING')" >"$D/pipe.nowait"
pw=() pn=()
for r in 1 2 3; do
	pw+=("$(pipe_rate "$D/pipe.wait")") || pr_fail "redis-cli --pipe"
	pn+=("$(pipe_rate "$D/pipe.nowait")") || pr_fail "redis-cli --pipe"
done
rc "$P1" DEL hb:wait >/dev/null
pr_log "REGISTER/s with WAIT 1: ${w1[*]}; without: ${w0[*]}; ratios ${wr[*]}; slowpath CPU us a REGISTER: with ${c1[*]}, without ${c0[*]}; SET+WAIT 1 on one connection/s: ${pw[*]} (SET+PING: ${pn[*]})"
grep -q "WAIT" "$D/sp1.log" && { grep WAIT "$D/sp1.log" | head -3 >&2; pr_fail "a WAIT fell short during the REGISTER runs"; }

# ---- 2. kill -9 of the primary during a storm
# lost ACKED PORT: how many acknowledged devices ("userN ADDR:PORT" lines) have no binding
# naming their address on the primary at PORT
lost() {
	python3 - "$1" "$2" "$ADMIN_PW" <<'PY'
import re, subprocess, sys
acked, port, pw = sys.argv[1], sys.argv[2], sys.argv[3]
devs = [l.split() for l in open(acked) if l.strip()]
cmds = ''.join('HGET pr:reg:%s contact\n' % u for u, _ in devs)
out = subprocess.run(['redis-cli', '-p', port, '--no-auth-warning', '--user', 'admin', '--pass', pw],
                     input=cmds, capture_output=True, text=True, check=True).stdout.split('\n')
missing = [u for (u, addr), c in zip(devs, out) if not re.search('@%s(?![0-9])' % re.escape(addr), c)]
for u in missing[:20]:
    print('lost: %s' % u, file=sys.stderr)
print(len(missing))
PY
}
# the first acknowledged device's binding is checked by hand once: the check above must be
# able to find a binding (a check that finds none would report every device lost)
contact_form_checked=0
lost_n=() acked_n=() after_n=() r503_n=() other_n=() storm_s=() fo_s=() follow_s=()
for f in $(seq "$FAILOVERS"); do
	old=$(primary_port)
	if [ "$old" = "$P1" ]; then on=1 rn=2; else on=2 rn=1; fi
	new=$(port_of $rn)
	# no binding from an earlier round may pass for this round's
	python3 -c "import sys
for i in range(int(sys.argv[1])): print('DEL pr:reg:user%d' % i)
print('DEL pr:regs')" "$STORM_N" | rc "$old" >/dev/null || pr_fail "deleting the bindings"
	rc "$old" WAIT 1 5000 | grep -qx 1 || pr_fail "the replica did not acknowledge the deletions"
	sentinels_ready
	pid=$(cat "$D/n$on/redis.pid")
	acked=$D/acked.$f
	taskset -c $LOAD_CPU "$LOAD" -a "$acked" -k "$KILL_AT:$pid" storm 127.0.0.1 "$(eval echo \$TP$STORM_WAIT)" "$D/ca.crt" "$PW" \
		"$STORM_N" "$STORM_N" "$STORM_W" >"$D/storm.$f.out" 2>"$D/storm.$f.err" &
	load=$!
	pr_on_exit "kill $load 2>/dev/null"
	# the moment the sentinels name the replica, polled every 20 ms from the kill on
	t_switch=""
	poll_switch() {
		[ -z "$t_switch" ] && grep -q "^killed" "$D/storm.$f.err" 2>/dev/null &&
			[ "$(primary_port)" = "$new" ] && t_switch=$(now)
	}
	while [ -z "$t_switch" ] && kill -0 $load 2>/dev/null; do
		poll_switch
		sleep 0.02
	done
	wait $load || { cat "$D/storm.$f.err" >&2; pr_fail "failover $f: the storm did not complete"; }
	grep -q "^killed $pid" "$D/storm.$f.err" || { cat "$D/storm.$f.err" >&2; pr_fail "failover $f: the primary was not killed (fewer than $KILL_AT acknowledged?)"; }
	for _ in $(seq 1500); do
		poll_switch
		[ -n "$t_switch" ] && break
		sleep 0.02
	done
	[ -n "$t_switch" ] || pr_fail "failover $f: the sentinels did not promote 127.0.0.1:$new within 30 s"
	t_kill=$(sed -n "s/^killed $pid at \([0-9.]*\) .*/\1/p" "$D/storm.$f.err")
	read -r a secs _ n503 nother <"$D/storm.$f.out"
	after=$(sed -n 's/^\([0-9]*\) acknowledged after the kill$/\1/p' "$D/storm.$f.err")
	if [ $contact_form_checked = 0 ]; then
		read -r u addr < <(head -1 "$acked")
		rc "$new" HGET "pr:reg:$u" contact | grep -q "@$addr" ||
			pr_fail "the contact stored for $u does not name $addr: $(rc "$new" HGET "pr:reg:$u" contact)"
		contact_form_checked=1
	fi
	l=$(lost "$acked" "$new" 2>"$D/lost.$f") || pr_fail "reading the bindings"
	[ "$l" = 0 ] || { head -5 "$D/lost.$f" >&2; pr_log "failover $f: $l of $a acknowledged registrations are missing on the new primary"; }
	# the slowpath's move, from its log's timestamp (ISO 8601, ms)
	mv_t=$(grep "primary of poprelay moved from 127.0.0.1:$old to 127.0.0.1:$new" "$D/sp$STORM_WAIT.log" | tail -1 |
		sed -n 's/^<[0-9]*>\([0-9T:.-]*\)Z .*/\1/p')
	fol=""
	[ -n "$mv_t" ] && fol=$(python3 -c "import datetime, sys
t = datetime.datetime.fromisoformat(sys.argv[1]).replace(tzinfo=datetime.timezone.utc).timestamp()
print('%.2f' % (t - float(sys.argv[2])))" "$mv_t" "$t_kill")
	fo=$(awk -v a="$t_switch" -v b="$t_kill" 'BEGIN { printf "%.2f", a - b }')
	pr_log "failover $f: $a acknowledged ($after of them read after the kill), $n503 answered 503, $nother other failures, storm ${secs} s, sentinels named the replica ${fo} s after the kill, slowpath moved ${fol:-?} s after it; lost $l"
	lost_n+=("$l") acked_n+=("$a") after_n+=("$after") r503_n+=("$n503") other_n+=("$nother") storm_s+=("$secs") fo_s+=("$fo")
	[ -n "$fol" ] && follow_s+=("$fol")
	# the killed node comes back as a replica of the new primary (as an operator would
	# bring it back); the next failover kills the new primary
	node "$on" "$new"
	linked "$(port_of "$on")"
done

m() { printf '%s\n' "$@" | median; }
printf '{"name":"ha_write_cost","value":%s,"unit":"REGISTER transactions/s with wait_replicas = 1 (digest, TLS, 1 core)","baseline":"the same slowpath with wait_replicas = 0, same primary + replica + sentinels, same run","baseline_value":%s,"ratio":%s,"note":"%s pairs back to back (order alternating), %s REGISTERs over %s TLS connections each; with WAIT: %s; without: %s; pair ratios %s; the slowpath'"'"'s CPU per REGISTER (us), with WAIT: %s (median %s); without: %s (median %s); SET + WAIT 1 pipelined on one connection, per second: %s (median %s), SET + PING: %s (median %s)"}\n' \
	"$(m "${w1[@]}")" "$(m "${w0[@]}")" "$(m "${wr[@]}")" "$RUNS" "$NREG" "$CONNS" "${w1[*]}" "${w0[*]}" "${wr[*]}" \
	"${c1[*]}" "$(m "${c1[@]}")" "${c0[*]}" "$(m "${c0[@]}")" "${pw[*]}" "$(m "${pw[@]}")" "${pn[*]}" "$(m "${pn[@]}")"
printf '{"name":"ha_redis_failover_acked_lost","value":%s,"unit":"acknowledged REGISTERs (200) whose binding is missing on the promoted primary","baseline":"acknowledged REGISTERs (median)","baseline_value":%s,"note":"%s failovers: storm of %s devices on new TLS connections (no retries, wait_replicas = '"$STORM_WAIT"', wait_timeout_ms 1000), kill -9 of the primary after the %sth 200, sentinels down-after 1000 ms; per failover: lost %s; acknowledged %s (of them read after the kill %s); 503 %s; other failures %s; storm s %s; kill to the sentinels naming the replica s %s (median %s); kill to the slowpath on it s %s"}\n' \
	"$(m "${lost_n[@]}")" "$(m "${acked_n[@]}")" "$FAILOVERS" "$STORM_N" "$KILL_AT" "${lost_n[*]}" "${acked_n[*]}" "${after_n[*]}" \
	"${r503_n[*]}" "${other_n[*]}" "${storm_s[*]}" "${fo_s[*]}" "$(m "${fo_s[@]}")" "${follow_s[*]:-?}"
