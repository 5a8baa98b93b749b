# Shared helpers for integration tests, benchmarks and `make run`. Source it.
# Everything a test creates is registered with pr_on_exit and torn down in reverse
# order when the script exits, whether it passed, failed or was interrupted.

PR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PR_ROOT/$BUILD ;; esac
PR_CLEANUP=()

pr_on_exit() { PR_CLEANUP+=("$*"); }
pr_cleanup() {
	# The loop variable has a name no cleanup command would use: a command that loops
	# with its own `i` must not cut the teardown short.
	local __pr_k
	for ((__pr_k = ${#PR_CLEANUP[@]} - 1; __pr_k >= 0; __pr_k--)); do
		eval "${PR_CLEANUP[__pr_k]}" >/dev/null 2>&1 || true
	done
	PR_CLEANUP=()
}
trap pr_cleanup EXIT
trap 'exit 130' INT TERM

# Every temp dir of this script lives under one parent made here, in the script's own
# shell, so it is removed at exit even when pr_tmpdir runs in a $(...) subshell.
PR_TMP=$(mktemp -d /tmp/poprelay-test.XXXXXX)
pr_on_exit "rm -rf '$PR_TMP'"

pr_log() { echo "[$(date +%T)] $*" >&2; }
pr_fail() { echo "FAIL: $*" >&2; exit 1; }
pr_skip() { echo "SKIP: $*" >&2; exit 77; }
pr_need_root() { [ "$(id -u)" = 0 ] || pr_skip "needs root (namespaces, hugepages)"; }

# pr_tmpdir: a private directory removed at exit (works inside $(...)); echoes its path.
pr_tmpdir() {
	mktemp -d "$PR_TMP/t.XXXXXX"
}

# pr_redis_start DIR: redis-server on DIR/redis.sock only (no TCP), stopped at exit.
pr_redis_start() {
	local dir=$1
	redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 \
		--dir "$dir" --save '' --appendonly no --daemonize yes \
		--pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
	pr_on_exit "kill \$(cat '$dir/redis.pid') 2>/dev/null"
	local i
	for i in $(seq 50); do
		redis-cli -s "$dir/redis.sock" ping 2>/dev/null | grep -q PONG && return 0
		sleep 0.1
	done
	pr_fail "redis-server did not start (see $dir/redis.log)"
}

# pr_hugepages N: mount hugetlbfs at /dev/hugepages if needed and make sure N 2 MB pages
# are reserved; restores the previous reservation and mount at exit.
pr_hugepages() {
	local want=$1 had
	if ! grep -q ' /dev/hugepages hugetlbfs' /proc/mounts; then
		mkdir -p /dev/hugepages
		mount -t hugetlbfs nodev /dev/hugepages || pr_fail "cannot mount hugetlbfs"
		pr_on_exit "umount /dev/hugepages"
	fi
	had=$(cat /proc/sys/vm/nr_hugepages)
	if [ "$had" -lt "$want" ]; then
		echo "$want" >/proc/sys/vm/nr_hugepages
		pr_on_exit "echo $had > /proc/sys/vm/nr_hugepages"
	fi
	[ "$(cat /proc/sys/vm/nr_hugepages)" -ge "$want" ] || pr_fail "could not reserve $want hugepages"
}

# pr_netns NAME: a fresh network namespace with loopback up, deleted at exit. The name is
# claimed first (/run/poprelay-tests/netns/NAME: the test and its pid): tests run two at a
# time, and one that took another's name deleted the other's namespaces under it (ha_split
# and ha_sip, both hs-*, in a CI run); a live claim by another test fails this one, naming both.
pr_netns() {
	local c=/run/poprelay-tests/netns/$1 owner
	mkdir -p /run/poprelay-tests/netns
	if ! mkdir "$c" 2>/dev/null; then
		owner=$(cat "$c/owner" 2>/dev/null || true)
		if [ -n "$owner" ] && [ "${owner%% *}" != "$$" ] && kill -0 "${owner%% *}" 2>/dev/null; then
			pr_fail "network namespace $1 is in use by ${owner#* } (pid ${owner%% *}), running now: give one of the two tests other names"
		fi
		rm -rf "$c"
		mkdir "$c" || pr_fail "claim of network namespace $1"
	fi
	echo "$$ $(basename "$0")" >"$c/owner"
	pr_on_exit "rm -rf '$c'"
	ip netns del "$1" 2>/dev/null || true
	ip netns add "$1" || pr_fail "ip netns add $1"
	pr_on_exit "ip netns del '$1'"
	ip -n "$1" link set lo up
}

# pr_veth NS_A IF_A NS_B IF_B: a veth pair between two namespaces, both ends up, with
# checksum and segmentation offloads off (else af_packet sees partial checksums).
pr_veth() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" || pr_fail "veth $2/$4"
	local ns ifc
	for ns_if in "$1:$2" "$3:$4"; do
		ns=${ns_if%%:*}; ifc=${ns_if#*:}
		ip netns exec "$ns" ethtool -K "$ifc" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
		ip -n "$ns" link set "$ifc" up
	done
}

# pr_wait_for TIMEOUT_S CMD...: retry CMD every 0.1 s until it succeeds.
pr_wait_for() {
	local t=$1 i; shift
	for ((i = 0; i < t * 10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
