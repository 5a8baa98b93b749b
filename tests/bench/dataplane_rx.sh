#!/usr/bin/env bash
# Receive/classify/drop rate of one dataplane worker on net_null, next to dpdk-testpmd
# --forward-mode=io on the same virtual device in the same run (medians of RUNS runs).
# Prints JSON lines for tests/bench/run.sh. Narrative: tests/bench/dataplane_rx.md.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
# A second Ctrl-C (or timeout's signal to the whole group) must not cut the cleanup short.
trap 'trap "" INT TERM; exit 130' INT TERM
pr_need_root
DP=$BUILD/poprelay-dataplane
[ -x "$DP" ] || pr_fail "$DP not built"
command -v dpdk-testpmd >/dev/null || pr_skip "dpdk-testpmd not installed"
RUNS=${RUNS:-3}
SECS=${SECS:-3}
tmp=$(pr_tmpdir)
pr_on_exit "rm -rf /var/run/dpdk/dp-bench /var/run/dpdk/dp-bench-tp"
huge=no
# (pr_hugepages exits on failure: only try where hugetlbfs can work at all)
if grep -qw hugetlbfs /proc/filesystems && [ -w /proc/sys/vm/nr_hugepages ]; then
	pr_hugepages 512
	huge=yes
fi
memargs="-m 1024"
[ $huge = yes ] || memargs="--no-huge -m 1024"

cat >"$tmp/dp.conf" <<CONF
[eal]
lcores = 0-1
memory_mb = 1024
huge = $huge
file_prefix = dp-bench
log_level = 4
[dataplane]
burst_size = 32
mbuf_pool_size = 16383
[port0]
device = net_null0
ipv4 = 198.51.100.10/24
CONF

# Median of numbers on stdin (sort -g: awk may print large values as 4.2e+07).
median() { sort -g | awk '{a[NR]=$1} END {printf "%.0f\n", (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

dp_rates=()
tp_rates=()
for r in $(seq "$RUNS"); do
	out=$("$DP" -c "$tmp/dp.conf" --bench-seconds "$SECS" 2>"$tmp/dp.log") ||
		{ cat "$tmp/dp.log" >&2; pr_fail "dataplane bench run failed"; }
	dp_rates+=("$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rx_pps_per_worker"])')")
	# testpmd: one forwarding core, the same device, the same burst; its own per-second
	# Rx-pps, the first (warm-up) sample dropped.
	timeout -s INT $((SECS + 3)) dpdk-testpmd -l 0-1 --no-pci $memargs --file-prefix dp-bench-tp \
		--vdev net_null0 --log-level=4 -- --forward-mode=io --port-topology=loop --nb-cores=1 \
		--burst=32 --stats-period 1 --auto-start --total-num-mbufs=16384 \
		>"$tmp/tp.log" 2>&1 || true
	tp=$(grep -o 'Rx-pps: *[0-9]*' "$tmp/tp.log" | awk '{print $2}' | awk '$1 > 0' | tail -n +2 | median)
	[ -n "$tp" ] || { tail -20 "$tmp/tp.log" >&2; pr_fail "no testpmd rate"; }
	tp_rates+=("$tp")
	pr_log "run $r: dataplane ${dp_rates[-1]} pps, testpmd io $tp pps"
done
dp=$(printf '%s\n' "${dp_rates[@]}" | median)
tp=$(printf '%s\n' "${tp_rates[@]}" | median)
python3 - "$dp" "$tp" "$huge" <<'PY'
import json, sys
dp, tp, huge = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
print(json.dumps({"name": "dataplane_rx_classify_drop_per_worker", "value": round(dp / 1e6, 2),
                  "unit": "Mpps", "baseline": "dpdk-testpmd io, net_null, 1 core",
                  "baseline_value": round(tp / 1e6, 2), "hugepages": huge == "yes"}))
PY
