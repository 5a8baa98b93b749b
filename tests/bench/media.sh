#!/usr/bin/env bash
# The media anchor's SRTP->SRTP relaying (narrative: tests/bench/media.md). JSON lines for
# tests/bench/run.sh:
#  1. media_srtp_transcrypt_per_worker_ring / _1212B_: poprelay-dataplane, one worker, on a
#     ring:NAME port (hugepages) with 10,000 live sessions installed through the session
#     stream, fed by tests/bench/media/mediagen (a DPDK secondary process on the other core
#     playing both devices of every session: fresh SRTP packets, half the traffic in each
#     direction, 172- and 1212-byte SRTP packets): relayed packets per busy CPU-second of the
#     worker (busy_us scaled by the share of the time its thread had its CPU: what one
#     dedicated worker core relays when it is the limit, as here, its polls full, on a
#     machine whose other users take turns on that core), next to the crypto-only bound
#     (tests/bench/media/crypto_bound: crypto/'s unprotect and protect bursts over the same
#     streams and contexts on one core, no I/O, per second of its thread's CPU time); the
#     per-wall-second, per-busy_us and per-thread-CPU-second figures are in the note;
#  2. media_srtp_transcrypt_vs_rtpengine: the same per-busy-CPU-second figure at 172 B, next to
#     Debian's rtpengine (userspace, --table=-1) relaying the same packets SRTP->SRTP with
#     other keys on each leg (set up over its NG protocol by tests/bench/media/ng.py, driven
#     by tests/bench/media/rtpdrive) per CPU-second of its process;
#  3. media_session_memory: the anchor's bytes per session (telemetry memory_bytes + tables_bytes +
#     slots_bytes over sessions) once every session's two streams exist;
#  4. media_session_installs_per_s: sessions a second from writing the stream entries
#     (redis-cli --pipe, each session as the slowpath's MULTI/EXEC) to a first packet relayed
#     in both directions of every session;
#  5. webrtc_media_transcrypt_per_worker_ring (issue 19): the per-busy-CPU-second figure of 1
#     at 172 B, in each run after figure 1's phases, with a fresh dataplane and SESSIONS
#     sessions of SESSIONS/2 browser calls (gen.py --webrtc: leg a a browser's DTLS-keyed,
#     ICE leg, audio and video BUNDLEd on one relay port, told apart by payload type 111/96;
#     leg b an SDES device per m= line), installed with the keys, latches and streams a
#     previous dataplane left in their hashes (as after a restart); baseline: figure 1's 172 B
#     figure of the same run; ratio: the median of the runs' own ratios, each run's webrtc
#     phase against the mean of figure 1's 172 B phases before it (its run's) and after it
#     (the next run's; the last run: before only). Before measuring, the
#     first packet of every direction is checked relayed to the right device (addresses,
#     payload type, authentication, payload), and the anchor's counts must show every session
#     keyed, latched and relaying; the measured phase must bring back every direction.
# Env: SECS (measured seconds per figure, default 5), RUNS (default 5), SESSIONS (10000),
# CALLS (rtpengine calls, 1000), PROFILE (1: perf profile of the worker in the first run),
# PROFILE_SIZE (the packet size profiled, 172), RTPENGINE (no: skip figure 2), PERF_OUT (a path: keep that profile's
# perf.data there, for perf annotate), PARTS (which figures, default "srtp rtpengine webrtc":
# srtp = figures 1, 3 and 4 with the crypto bound and the 1212 B phase; rtpengine = 2; webrtc
# = 5, which always measures figure 1's 172 B phase as its baseline: PARTS=webrtc prints
# figure 5 alone, quickly, with the baseline's value in it).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
[ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] || pr_skip "needs 2 CPUs (the worker on one, the generator on the other)"
DP=$BUILD/poprelay-dataplane
GEN=$BUILD/tests/bench/media/mediagen
CB=$BUILD/tests/bench/media/crypto_bound
C2C=$BUILD/tests/bench/media/c2c
RD=$BUILD/tests/bench/media/rtpdrive
H=$PR_ROOT/tests/bench/media
for b in "$DP" "$GEN" "$CB" "$RD" "$C2C"; do [ -x "$b" ] || pr_fail "build first: $b"; done
N=${SESSIONS:-10000}
SECS=${SECS:-5}
RUNS=${RUNS:-5}
CALLS=${CALLS:-1000}
PROFILE=${PROFILE:-1}
PARTS=${PARTS:-srtp rtpengine webrtc}
part() { [[ " $PARTS " == *" $1 "* ]]; }
for p in $PARTS; do
	case $p in srtp | rtpengine | webrtc) ;; *) pr_fail "PARTS: unknown part '$p' (srtp rtpengine webrtc)" ;; esac
done
[ "${RTPENGINE:-yes}" != no ] || PARTS=${PARTS//rtpengine/}
if part webrtc && ((N % 2)); then pr_fail "SESSIONS=$N: the webrtc figure takes two sessions a call, an even number"; fi
PREFIX=md-bench
RING=mdb
TEL="python3 $PR_ROOT/tests/integration/dp_telemetry.py"
tmp=$(pr_tmpdir)
pr_on_exit "rm -rf /var/run/dpdk/$PREFIX; rm -f /dev/hugepages/${PREFIX}map_*"
# the binaries this bench runs, as they are now (a rebuild meanwhile changes nothing, and
# perf still finds their symbols)
cp "$DP" "$GEN" "$CB" "$RD" "$C2C" "$tmp/"
DP=$tmp/poprelay-dataplane GEN=$tmp/mediagen CB=$tmp/crypto_bound RD=$tmp/rtpdrive C2C=$tmp/c2c
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
jget() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$@"; }
# This script, Redis, the generator and the telemetry client stay on CPU 0; the dataplane's
# worker (lcore 1), the crypto bound and rtpengine get CPU 1.
taskset -p -c 0 $$ >/dev/null

pr_log "generating $N sessions (fresh keys) and their streams"
python3 "$H/gen.py" "$tmp/sessions.resp" "$tmp/streams.txt" "$N" "$(date +%s)"
if part webrtc; then
	pr_log "generating $N bundled browser sessions ($((N / 2)) calls) and their streams"
	python3 "$H/gen.py" --webrtc "$tmp/wsessions.resp" "$tmp/wstreams.txt" "$N" "$(date +%s)"
fi
pr_hugepages 512
pr_redis_start "$tmp"
taskset -a -p -c 0 "$(cat "$tmp/redis.pid")" >/dev/null
rcli() { redis-cli -s "$tmp/redis.sock" "$@"; }
cat >"$tmp/dp.conf" <<CONF
[eal]
lcores = 0-1
memory_mb = 512
huge = yes
huge_unlink = no
file_prefix = $PREFIX
log_level = 4
[dataplane]
burst_size = 32
mbuf_pool_size = 65535
neigh_timeout_s = 3600
[redis]
socket = $tmp/redis.sock
[port0]
device = ring:$RING
rx_desc = 4096
tx_desc = 4096
ipv4 = 198.51.100.10/24
gateway4 = 198.51.100.1
[turn]
enabled = no
[media]
port_min = 20000
port_max = 59999
max_sessions = 16384
stats_interval_ms = 60000
session_idle_s = 3600
CONF
# worker (lcore 1) and anchor figures: time, rx, busy_us, busy_loops, relayed, and the
# worker thread's CPU time (seconds, /proc/PID/task/TID/schedstat)
wstats() {
	$TEL $PREFIX /poprelay/lcore,1 /poprelay/media/stats | python3 -c "
import json, os, sys, time
d = json.load(sys.stdin); w = d['/poprelay/lcore,1']; m = d['/poprelay/media/stats']
cpu = int(open('/proc/$dp_pid/task/$wtid/schedstat').read().split()[0]) / 1e9
print(time.time(), w['rx_packets'], w['busy_us'], w['busy_loops'], m['relayed'], cpu)"
}
redis_up() { $TEL $PREFIX /poprelay/media/stats | grep -q '"redis_up": 1'; }
# Whether the dataplane has applied (and so acknowledged) every install: the stream group's
# entries read less those pending.
all_acked() {
	rcli XINFO GROUPS pr:sessions:stream 2>/dev/null | awk -v n="$N" '
		/^entries-read$/ {getline; r = $1} /^pending$/ {getline; p = $1}
		END {exit !(r - p >= n)}'
}
# The same, polled every 50 ms, its time into $tmp/acked.
acked_watch() {
	rm -f "$tmp/acked"
	while :; do
		if all_acked; then
			date +%s.%N >"$tmp/acked"
			return
		fi
		sleep 0.05
	done
}
STREAMS=$tmp/streams.txt STATE=$tmp/gen.state # the phase's streams (figure 1's, or 5's)
gen() { # gen ARGS...: mediagen on CPU 0 against the dataplane
	"$GEN" --proc-type=secondary --file-prefix=$PREFIX --no-pci --lcores=8@0 --log-level=3 -- \
		--ring $RING --streams "$STREAMS" --state "$STATE" "$@"
}
mstats() { $TEL $PREFIX /poprelay/media/stats; }
# start_dp: a fresh dataplane (no session, Redis flushed); sets dp_pid, wtid
start_dp() {
	rcli FLUSHALL >/dev/null
	rm -f "$STATE" "$tmp/ready"
	taskset -c 0-1 "$DP" -c "$tmp/dp.conf" >"$tmp/dp.out" 2>"$tmp/dp.log" &
	dp_pid=$!
	pr_on_exit "kill $dp_pid 2>/dev/null"
	pr_wait_for 60 redis_up || { tail -5 "$tmp/dp.log" >&2; pr_fail "dataplane did not come up"; }
	wtid=$(grep -l '^rte-worker-1$' /proc/$dp_pid/task/*/comm | head -1 | cut -d/ -f5)
	[ -n "$wtid" ] || pr_fail "no thread rte-worker-1 in the dataplane"
}
stop_dp() {
	kill "$dp_pid"
	wait "$dp_pid" 2>/dev/null || true
}

# one measured phase: SRTP packets of $1 bytes for SECS seconds (after 2 of warm-up); sets
# core_rate (relayed per CPU-second the worker spent in loop iterations that had packets:
# busy_us, which is wall time, scaled by the share of wall time the worker thread was on its
# CPU; on a dedicated core all the rates below agree), rate (mediagen's median relayed per
# second of wall time), busy_rate (relayed per second of busy_us), cpu_rate (relayed per
# second of the worker thread's CPU time, idle polls included), cpu_share (that CPU time
# over wall time), busy_frac (busy_us over wall time), burst (packets per busy poll),
# gen_busy, ring_avg
measure() {
	gen --size "$1" --seconds $((SECS + 2)) >"$tmp/m.json" 2>"$tmp/m.err" &
	local gp=$! t0 rx0 b0 l0 r0 c0 t1 rx1 b1 l1 r1 c1
	sleep 2
	read -r t0 rx0 b0 l0 r0 c0 <<<"$(wstats)"
	if [ -n "${2:-}" ]; then
		perf record -F 999 -C 1 -o "$tmp/perf.data" -- sleep "$SECS" >/dev/null 2>&1 || true
	else
		sleep "$SECS"
	fi
	read -r t1 rx1 b1 l1 r1 c1 <<<"$(wstats)"
	wait "$gp" || { cat "$tmp/m.err" "$tmp/m.json" >&2; pr_fail "mediagen ($1 B) failed or saw bad frames"; }
	rate=$(jget "$tmp/m.json" median_pps)
	read -r busy_rate busy_frac burst cpu_rate cpu_share core_rate <<<"$(python3 -c "
t, rel, bu, cpu = $t1 - $t0, $r1 - $r0, max($b1 - $b0, 1) / 1e6, max($c1 - $c0, 0.001)
print(round(rel / bu), round(bu / t, 3), round(($rx1 - $rx0) / max($l1 - $l0, 1), 1),
      round(rel / cpu), round(cpu / t, 3), round(rel / (bu * cpu / t)))")"
	[ "$core_rate" -gt 0 ] 2>/dev/null ||
		pr_fail "no packet relayed in the $1 B phase by the worker's figures ($r0 -> $r1 relayed, busy_us $b0 -> $b1)"
	gen_busy=$(jget "$tmp/m.json" gen_busy)
	ring_avg=$(jget "$tmp/m.json" rx_ring_avg)
}

# Figure 5's phase of run $1: a fresh dataplane, the bundled browser calls installed through
# the stream with what a previous dataplane left in their hashes, every direction checked
# relayed to its own device, then 172 B measured; appends to w172 and wnotes.
webrtc_phase() {
	local r=$1 m
	STREAMS=$tmp/wstreams.txt STATE=$tmp/wgen.state
	start_dp
	local t_write
	t_write=$(date +%s.%N)
	rcli --pipe <"$tmp/wsessions.resp" >"$tmp/pipe.out" || pr_fail "redis-cli --pipe: $(tail -2 "$tmp/pipe.out")"
	# every session applied before the first packet: while a call's audio member is in and
	# its video member not yet, the group's port gives the browser's video (a payload type
	# no member claims) to the first member, the audio device, as the dataplane must
	# (docs/media.md, "BUNDLE"), and the check below would call that a misrouting
	pr_wait_for 60 all_acked || pr_fail "webrtc: the dataplane did not apply the $N installs in 60 s"
	# every first packet fully checked (--check-every 1): addresses (the audio and video
	# of the browser's one 5-tuple each to its own device and relay port, both devices'
	# back to the browser from the one port), payload type, authentication, payload
	gen --prime --check-every 1 --size 172 --seconds 60 >"$tmp/wprime.json" 2>"$tmp/wprime.err" || {
		cat "$tmp/wprime.err" "$tmp/wprime.json" >&2
		mstats >&2
		pr_fail "webrtc: not every direction of the $N bundled sessions relayed a first packet to its own device (mediagen above)"
	}
	# the anchor's side: every session installed from its hash keyed (the DTLS keys), both
	# legs latched (the browser's nomination, the device's), the streams restored, nothing
	# refused or failing authentication, every direction relayed
	mstats >"$tmp/wstats0.json"
	m=$(python3 - "$tmp/wstats0.json" "$N" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["/poprelay/media/stats"]
n = int(sys.argv[2])
want = {"sessions": n, "streams": 2 * n, "legs_latched": 2 * n, "dtls_keys_restored": n,
        "streams_restored": 2 * n, "refused": 0, "auth_fail": 0}
bad = [f"{k} {m.get(k)} (want {v})" for k, v in want.items() if m.get(k) != v]
if m.get("relayed", 0) < 2 * n:
    bad.append(f"relayed {m.get('relayed')} (want >= {2 * n})")
print("; ".join(bad))
PY
	)
	[ -z "$m" ] || pr_fail "webrtc: the anchor after the install: $m"
	pr_log "run $r webrtc: $N bundled sessions installed keyed and latched from their hashes, every direction relayed $(python3 -c "print(round($(jget "$tmp/wprime.json" all_at) - $t_write, 3))") s after the first write ($(jget "$tmp/wprime.json" checked) first packets checked)"
	measure 172
	[ "$(jget "$tmp/m.json" streams_back)" -eq $((2 * N)) ] || {
		cat "$tmp/m.json" >&2
		pr_fail "webrtc: only $(jget "$tmp/m.json" streams_back) of the $((2 * N)) directions came back in the measured phase"
	}
	m=$(mstats | python3 -c "import json, sys; print(json.load(sys.stdin)['/poprelay/media/stats']['auth_fail'])")
	[ "$m" = 0 ] || pr_fail "webrtc: $m packets failed authentication at the anchor"
	w172+=("$core_rate")
	wnotes+=("172:$rate:$busy_rate:$cpu_rate:$cpu_share:$busy_frac:$burst:$gen_busy:$ring_avg")
	pr_log "run $r webrtc 172 B: $core_rate relayed per busy CPU-second of the worker ($rate per second, $busy_rate per busy_us second, $cpu_rate per CPU-second of the worker thread; the worker had $cpu_share of CPU 1, busy $busy_frac, $burst packets a poll; generator busy $gen_busy, RX ring $ring_avg deep), mediagen $(cat "$tmp/m.json")"
	stop_dp
}

b172=(); b1212=(); c172=(); c1212=(); mem=(); inst=(); notes=(); w172=(); wnotes=(); c2cs=()
# c2c: the one-way time of a cache line from CPU 0 (mediagen) to CPU 1 (the worker), while
# no dataplane runs; on this VM it moves (35-110 ns) with where the host puts the vCPUs
c2c() { "$C2C" --from 0 --to 1 --reps 5 --trips 50000 | python3 -c 'import json,sys; print(json.load(sys.stdin)["c2c_ns"])'; }
sizes="172 1212"
part srtp || sizes=172
for r in $(seq "$RUNS"); do
	# the crypto-only bound, on the worker's core while no dataplane runs: before the run's
	# relay phases and again after them (below); the run's bound is the mean of the two,
	# so that the bound and the relay come from the same spell of this shared machine
	if part srtp; then
		taskset -c 1 "$CB" "$tmp/streams.txt" --size 172 --size 1212 --reps 5 --ms 200 >"$tmp/cb.json"
		cb_before172=$(sed -n 1p "$tmp/cb.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pps"])')
		cb_before1212=$(sed -n 2p "$tmp/cb.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pps"])')
		c2c_before=$(c2c)
		pr_log "run $r: crypto bound before $(tr '\n' ' ' <"$tmp/cb.json"); c2c $c2c_before ns"
	fi

	# a fresh dataplane, no session; then the sessions through the stream
	STREAMS=$tmp/streams.txt STATE=$tmp/gen.state
	start_dp
	rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$dp_pid/status")
	gen --prime --size 172 --seconds 120 --ready-file "$tmp/ready" >"$tmp/prime.json" 2>"$tmp/prime.err" &
	gp=$!
	pr_wait_for 30 test -e "$tmp/ready" || { cat "$tmp/prime.err" >&2; pr_fail "mediagen did not start"; }
	t_write=$(date +%s.%N)
	acked_watch &
	aw=$!
	rcli --pipe <"$tmp/sessions.resp" >"$tmp/pipe.out" || pr_fail "redis-cli --pipe: $(tail -2 "$tmp/pipe.out")"
	t_piped=$(date +%s.%N)
	wait "$gp" || { cat "$tmp/prime.err" "$tmp/prime.json" >&2; pr_fail "not every stream relayed a first packet"; }
	kill "$aw" 2>/dev/null || true
	wait "$aw" 2>/dev/null || true
	all_at=$(jget "$tmp/prime.json" all_at)
	t_acked=$(cat "$tmp/acked" 2>/dev/null || echo 0)
	inst+=("$(python3 -c "print(round($N / ($all_at - $t_write)))")")
	read -r sess streams membytes slots tables installs <<<"$($TEL $PREFIX /poprelay/media/stats | python3 -c "
import json, sys
m = json.load(sys.stdin)['/poprelay/media/stats']
print(m['sessions'], m['streams'], m['memory_bytes'], m['slots_bytes'], m['tables_bytes'], m['installs'])")"
	[ "$sess" -eq "$N" ] && [ "$streams" -eq $((2 * N)) ] || pr_fail "$sess sessions, $streams streams after priming"
	rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$dp_pid/status")
	mem+=("$(((membytes + slots + tables) / sess))")
	pr_log "run $r: $N sessions piped in $(python3 -c "print(round($t_piped - $t_write, 3))") s, all applied by the dataplane after $(python3 -c "print(round($t_acked - $t_write, 3) if $t_acked else '?')") s, all relayed both ways $(python3 -c "print(round($all_at - $t_write, 3))") s after the first write: ${inst[-1]} sessions/s; memory $(((membytes + slots + tables) / sess)) B/session (memory_bytes $membytes + slots_bytes $slots + tables_bytes $tables; RSS grew $(((rss1 - rss0) * 1024 / N)) B/session)"

	for size in $sizes; do
		measure $size
		eval "c$size+=(\"\$core_rate\")"
		notes+=("$size:$rate:$busy_rate:$cpu_rate:$cpu_share:$busy_frac:$burst:$gen_busy:$ring_avg")
		pr_log "run $r $size B: $core_rate relayed per busy CPU-second of the worker ($rate per second, $busy_rate per busy_us second, $cpu_rate per CPU-second of the worker thread; the worker had $cpu_share of CPU 1, busy $busy_frac, $burst packets a poll; generator busy $gen_busy, RX ring $ring_avg deep), mediagen $(cat "$tmp/m.json")"
	done
	if part srtp && [ "$r" = 1 ] && [ "$PROFILE" = 1 ] && command -v perf >/dev/null; then
		measure "${PROFILE_SIZE:-172}" perf
		pr_log "profile of CPU 1 (the worker's) relaying ${PROFILE_SIZE:-172} B ($core_rate per busy CPU-second, $rate/s):"
		perf report -i "$tmp/perf.data" --no-children --sort comm --stdio 2>/dev/null |
			grep -E '^ +[0-9]' | head -4 >&2 || true
		perf report -i "$tmp/perf.data" --no-children --comm rte-worker-1 --sort dso,symbol \
			--stdio 2>/dev/null | grep -E '^ +[0-9]' | head -16 >&2 || true
		[ -z "${PERF_OUT:-}" ] || cp "$tmp/perf.data" "$PERF_OUT"
	fi
	stop_dp
	if part webrtc; then webrtc_phase "$r"; fi
	part srtp || continue
	taskset -c 1 "$CB" "$tmp/streams.txt" --size 172 --size 1212 --reps 5 --ms 200 >"$tmp/cb.json"
	c2c_after=$(c2c)
	c2cs+=("$c2c_before/$c2c_after")
	pr_log "run $r: crypto bound after $(tr '\n' ' ' <"$tmp/cb.json"); c2c $c2c_after ns"
	b172+=("$(sed -n 1p "$tmp/cb.json" | python3 -c 'import json,sys; print((json.load(sys.stdin)["pps"] + '"$cb_before172"') / 2)')")
	b1212+=("$(sed -n 2p "$tmp/cb.json" | python3 -c 'import json,sys; print((json.load(sys.stdin)["pps"] + '"$cb_before1212"') / 2)')")
done

# rtpengine, userspace, in a namespace on lo: the same packets through CALLS calls
rte=0; rte_note="not installed"
if ! part rtpengine; then
	rte_note="not run (RTPENGINE=no or PARTS)"
elif command -v rtpengine >/dev/null; then
	pr_netns md-rte
	for a in 10.0.0.1 10.0.0.2 10.0.0.3; do ip -n md-rte addr add $a/32 dev lo; done
	ip netns exec md-rte taskset -c 1 rtpengine --config-file=none --foreground --table=-1 \
		--interface=10.0.0.1 --listen-ng=10.0.0.1:2223 --port-min=20000 --port-max=60000 \
		--timeout=600 --delete-delay=0 --log-stderr --log-level=4 \
		--pidfile="$tmp/rte.pid" >"$tmp/rte.log" 2>&1 &
	rte_pid=$!
	pr_on_exit "kill $rte_pid 2>/dev/null"
	ngping() { ip netns exec md-rte python3 -c "
import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
s.sendto(b'1 d7:command4:pinge', ('10.0.0.1', 2223)); assert b'pong' in s.recv(100)"; }
	pr_wait_for 20 ngping || { tail -5 "$tmp/rte.log" >&2; pr_fail "rtpengine did not answer a ping"; }
	rte_rates=()
	for r in $(seq "$RUNS"); do
		# fresh calls (keys, SSRCs) each run: a stream picked up again would be replayed
		ip netns exec md-rte python3 "$H/ng.py" 10.0.0.1:2223 "$CALLS" "$tmp/rte.streams" \
			10.0.0.2:$((20000 + 4 * r * CALLS)) 10.0.0.3:$((20000 + 4 * r * CALLS)) ||
			pr_fail "rtpengine call setup"
		rm -f "$tmp/rte.state"
		ip netns exec md-rte "$RD" --streams "$tmp/rte.streams" --size 172 --seconds $((SECS + 1)) \
			--cpu-pid "$rte_pid" --state "$tmp/rte.state" >"$tmp/rd.json" || {
			cat "$tmp/rd.json" >&2; pr_fail "rtpdrive through rtpengine failed or saw bad packets"; }
		rte_rates+=("$(jget "$tmp/rd.json" per_cpu_second)")
		pr_log "rtpengine run $r: ${rte_rates[-1]} relayed per CPU-second: $(cat "$tmp/rd.json")"
	done
	rte=$(printf '%s\n' "${rte_rates[@]}" | median)
	rte_note="$CALLS calls"
	kill "$rte_pid"
fi

python3 - "${b172[*]}" "${b1212[*]}" "${c172[*]}" "${c1212[*]}" "${mem[*]}" "${inst[*]}" \
	"$rte" "$N" "$rte_note" "${notes[*]}" "$PARTS" "${w172[*]}" "${wnotes[*]}" "${c2cs[*]}" <<'PY'
import json, statistics, sys
med = lambda s: statistics.median(float(x) for x in s.split()) if s.split() else 0.0
b172, b1212, c172, c1212, mem, inst = (med(a) for a in sys.argv[1:7])
parts = sys.argv[11].split()
# each run's relay over the same run's bound (measured around it): the machine's speed
# drifts between runs, and a run's two figures come from the same spell of it
pairs = lambda c, b: [float(x) / float(y) for x, y in zip(sys.argv[c].split(), sys.argv[b].split())]
r172, r1212 = pairs(3, 1), pairs(4, 2)
runs = lambda v: ", ".join(f"{x:.3f}" for x in v)
rte, n, rte_note = float(sys.argv[7]), int(sys.argv[8]), sys.argv[9]
notes = [x.split(":") for x in sys.argv[10].split()]
def ev(size, notes=notes):
    v = [x for x in notes if x[0] == size]
    f = lambda i: statistics.median(float(x[i]) for x in v)
    return (f"{f(1) / 1e6:.3f} Mpps of wall time, {f(2) / 1e6:.3f} per busy_us second, "
            f"{f(3) / 1e6:.3f} per CPU-second of the worker thread; the worker thread had "
            f"{f(4):.2f} of its core, busy {f(5):.2f} of the time, {f(6):.1f} packets a poll; "
            f"generator busy {f(7):.2f}, {f(8):.0f} frames waiting in the RX ring (medians); "
            f"a cache line from the generator's CPU to the worker's took {c2c} ns "
            "(c2c, before/after each run's relay phases)")
c2c = ", ".join(sys.argv[14].split()) if len(sys.argv) > 14 and sys.argv[14] else "?"
if "srtp" in parts:
    print(json.dumps({"name": "media_srtp_transcrypt_per_worker_ring", "value": round(c172 / 1e6, 3),
                      "unit": "Mpps", "baseline": "crypto-only bound: crypto/'s unprotect + protect "
                      "bursts, same streams and contexts, one core, no I/O",
                      "baseline_value": round(b172 / 1e6, 3),
                      "ratio": round(statistics.median(r172), 3),
                      "note": f"SRTP->SRTP 172 B, {n} sessions, both directions, one worker on a "
                              "ring port, relayed per busy CPU-second of the worker; ratio: the "
                              f"median of the runs' own ratios ({runs(r172)}); " + ev("172")}))
    print(json.dumps({"name": "media_srtp_transcrypt_1212B_per_worker_ring",
                      "value": round(c1212 / 1e6, 3), "unit": "Mpps",
                      "baseline": "crypto-only bound, 1212 B", "baseline_value": round(b1212 / 1e6, 3),
                      "ratio": round(statistics.median(r1212), 3),
                      "note": "SRTP->SRTP 1212 B, relayed per busy CPU-second of the worker; ratio: "
                              f"the median of the runs' own ratios ({runs(r1212)}); " + ev("1212")}))
if rte:
    print(json.dumps({"name": "media_srtp_transcrypt_vs_rtpengine", "value": round(c172 / 1e3, 1),
                      "unit": "kpps", "baseline": "rtpengine (userspace) relayed per CPU-second",
                      "baseline_value": round(rte / 1e3, 1),
                      "note": f"packets relayed per CPU-second, SRTP->SRTP 172 B; poprelay: the "
                              f"worker's busy CPU time; rtpengine: utime+stime of its process "
                              f"(it sleeps when idle), {rte_note}"}))
if "srtp" in parts:
    print(json.dumps({"name": "media_session_memory", "value": round(mem), "unit": "bytes",
                      "note": f"(memory_bytes + slots_bytes + tables_bytes) / sessions, {n} sessions with both "
                              "streams: session, legs' runtime, streams, 4 SRTP contexts, port slots, "
                              "the session list and id index sized for max_sessions"}))
    print(json.dumps({"name": "media_session_installs_per_s", "value": round(inst), "unit": "sessions/s",
                      "note": f"{n} sessions piped as the slowpath's MULTI/EXEC, until a first packet "
                              "of both directions of every session came back relayed"}))
if "webrtc" in parts:
    # each run's bundled browser figure over figure 1's 172 B phases on both sides of it
    # (this run's, before it, and the next run's, after it; the last run's: before only):
    # the machine's speed moves by a third within a minute, and a phase's neighbours on
    # both sides pair with it best
    w = [float(x) for x in sys.argv[12].split()]
    c = [float(x) for x in sys.argv[3].split()]
    rw = [x / ((c[i] + c[i + 1]) / 2 if i + 1 < len(c) else c[i]) for i, x in enumerate(w)]
    print(json.dumps({"name": "webrtc_media_transcrypt_per_worker_ring",
                      "value": round(statistics.median(w) / 1e6, 3), "unit": "Mpps",
                      "baseline": "media_srtp_transcrypt_per_worker_ring (172 B, same run)",
                      "baseline_value": round(c172 / 1e6, 3),
                      "ratio": round(statistics.median(rw), 3),
                      "note": f"{n} sessions, {n // 2} browser calls (audio PT 111 + video PT 96 "
                              "BUNDLEd on one relay port, DTLS-keyed, latched, restored from the "
                              "hash) to SDES devices, SRTP->SRTP 172 B both directions, relayed per "
                              "busy CPU-second of the worker; ratio: the median of the runs' own "
                              "ratios, each against the mean of the 172 B phases of figure 1 just "
                              f"before and after it ({runs(rw)}); "
                              + ev("172", [x.split(":") for x in sys.argv[13].split()])}))
PY
