#!/usr/bin/env bash
# A bad configuration refuses to start (exit 1) with a message naming the file, section and
# key; a good one passes --check-config. No namespaces, no EAL start.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
DP=$BUILD/poprelay-dataplane
[ -x "$DP" ] || pr_fail "$DP not built"
tmp=$(pr_tmpdir)

good='[eal]
lcores = 0-1
huge = no
file_prefix = dp-badconf
[port0]
device = net_null0
ipv4 = 198.51.100.10/24'

# refuse NAME EXPECTED_WORDS... < config
refuse() {
	local name=$1 rc=0 w
	shift
	cat >"$tmp/$name.conf"
	"$DP" -c "$tmp/$name.conf" >"$tmp/$name.out" 2>&1 || rc=$?
	[ $rc -eq 1 ] || { cat "$tmp/$name.out"; pr_fail "$name: exit $rc, expected 1"; }
	grep -q "$tmp/$name.conf" "$tmp/$name.out" || pr_fail "$name: message does not name the file: $(cat "$tmp/$name.out")"
	for w in "$@"; do
		grep -qF -- "$w" "$tmp/$name.out" || pr_fail "$name: message lacks '$w': $(cat "$tmp/$name.out")"
	done
	pr_log "ok: $name: $(grep -o 'refusing.*' "$tmp/$name.out")"
}

printf '%s\n' "$good" >"$tmp/good.conf"
"$DP" -c "$tmp/good.conf" --check-config >/dev/null || pr_fail "good config refused"
"$DP" -c images/poprelay.conf --check-config >/dev/null 2>&1 ||
	(cd "$PR_ROOT" && "$DP" -c images/poprelay.conf --check-config) || pr_fail "images/poprelay.conf refused"

printf '%s\nbrust_size = 32\n' "$good" | refuse unknown_key "[port0]" brust_size "unknown key"
printf '%s\n[dataplane]\nburst_size = 4096\n' "$good" | refuse bad_value "[dataplane]" burst_size "from 1 to 256"
printf '%s\n[dataplne]\nburst_size = 32\n' "$good" | refuse unknown_section "[dataplne]" "unknown section"
printf '[eal]\nhuge = sometimes\n[port0]\ndevice = net_null0\nipv4 = 198.51.100.10/24\n' | refuse bad_bool "[eal]" huge "yes or no"
printf '[port0]\nipv4 = 198.51.100.10/24\n' | refuse missing_device "[port0]" device missing
printf '[port0]\ndevice = net_null0\nipv4 = 198.51.100.10\n' | refuse bad_prefix "[port0]" ipv4 "prefix length"
printf '[eal]\nhuge = yes\nhuge_unlink = no\n[port0]\ndevice = ring:bad/name\nipv4 = 198.51.100.10/24\n' |
	refuse bad_ring_name "[port0]" device "ring:bad/name" "letters, digits"
printf '[eal]\nhuge = no\n[port0]\ndevice = ring:gen0\nipv4 = 198.51.100.10/24\n' |
	refuse ring_without_shared_memory "[port0]" device "huge = yes" "huge_unlink = no"
"$DP" -c "$tmp/nonexistent.conf" >"$tmp/nx.out" 2>&1 && pr_fail "missing file accepted"
grep -q "nonexistent.conf: cannot open" "$tmp/nx.out" || pr_fail "missing file message: $(cat "$tmp/nx.out")"
# --help-config lists the tables the parser uses.
"$DP" --help-config >"$tmp/help.txt" || pr_fail "--help-config"
for w in "[eal]" "[dataplane]" "[portN]" "[redis]" burst_size "an integer from 1 to 256"; do
	grep -qF -- "$w" "$tmp/help.txt" || pr_fail "--help-config lacks $w"
done
# Nothing started: no runtime directory for the prefix.
[ ! -e /var/run/dpdk/dp-badconf ] || pr_fail "EAL was started for a refused config"
pr_log PASS
