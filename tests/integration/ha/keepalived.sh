# keepalived for the two appliances of tests/integration/ha/haenv.sh (source after it and
# after he_topology): the shipped configuration (images/keepalived-poprelay.conf, B's, and
# A's mirror of it) and the shipped notify hook (images/poprelay-ha-notify), run in the
# appliances' namespaces with the names substituted.
#
#   ka_topology       a kernel interface per appliance on the segment's bridge, for VRRP
#                     (the dataplane's port is DPDK's): NS-a's ${NS}a1 192.0.2.1/24, NS-b's
#                     ${NS}b1 192.0.2.2/24
#   ka_conf NAME      to stdout, NAME's keepalived.conf: interface ${NS}NAME1, the hook and
#                     the track script's poprelayctl as copies in $tmp/ka (root's: keepalived's
#                     enable_script_security refuses a script others could change) with -c
#                     $tmp/NAME.conf; KA_NOTIFY=no leaves the notify hook out (a test that must
#                     be seen failing)
#   ka_start NAME     keepalived (VRRP only) in NS-NAME with $tmp/ka/NAME.conf, its log in
#                     $tmp/ka/NAME.log (ka_pids_NAME: its parent and VRRP child)
#   ka_kill NAME      kill -9 of both
#   ka_state NAME INSTANCE   MASTER, BACKUP or FAULT: the instance's last transition in the log
#   ka_wait_state NAME INSTANCE STATE SECONDS

ka_topology() {
	local n=$HE_NS ns i=1
	for ns in a b; do
		pr_veth $n-$ns $n${ns}1 $n-br ${n}v$ns
		ip -n $n-br link set ${n}v$ns master ${n}br
		ip -n $n-$ns addr add 192.0.2.$i/24 dev $n${ns}1
		i=$((i + 1))
	done
	mkdir -p "$tmp/ka"
	chmod 755 "$tmp/ka"
	install -m 0755 "$CTL" "$tmp/ka/poprelayctl"
	sed "s|/usr/bin/poprelayctl|$tmp/ka/poprelayctl|" "$PR_ROOT/images/poprelay-ha-notify" >"$tmp/ka/poprelay-ha-notify"
	chmod 0755 "$tmp/ka/poprelay-ha-notify"
}

ka_conf() { # NAME
	python3 - "$PR_ROOT/images/keepalived-poprelay.conf" "$1" "$HE_NS$11" "$tmp" "${KA_NOTIFY:-yes}" <<'PY'
import re, sys
src, name, ifname, tmp, notify = sys.argv[1:]
text = open(src).read()
ctl = "%s/ka/poprelayctl -c %s/%s.conf" % (tmp, tmp, name)
hook = '"%s/ka/poprelay-ha-notify -c %s/%s.conf"' % (tmp, tmp, name)
text = text.replace("interface eth0", "interface " + ifname)
text = text.replace('"/usr/bin/poprelayctl ha status"', '"%s ha status"' % ctl)
text = text.replace("router_id poprelay-b", "router_id poprelay-" + name)
blocks = re.split(r"(?m)^(?=vrrp_instance )", text)
out = [blocks[0]]
for b in blocks[1:]:
    inst = b.split()[1]
    own = inst == "poprelay_" + name
    b = re.sub(r"(?m)^\tnotify .*\n", "", b)
    b = re.sub(r"priority \d+", "priority %d" % (150 if own else 100), b)
    if not own and notify == "yes":
        b = b.replace("\ttrack_script {", "\tnotify %s\n\ttrack_script {" % hook, 1)
    out.append(b)
print("".join(out), end="")
PY
}

ka_start() { # NAME
	local d=$tmp/ka
	ka_conf $1 >"$d/$1.conf"
	ip netns exec $HE_NS-$1 keepalived -t -f "$d/$1.conf" >"$d/$1.check" 2>&1 || pr_fail "keepalived -t refused $d/$1.conf: $(cat "$d/$1.check")"
	ip netns exec $HE_NS-$1 keepalived --vrrp --dont-fork --log-console --log-detail \
		-f "$d/$1.conf" -p "$d/$1.pid" -r "$d/$1.vrrp.pid" -c "$d/$1.chk.pid" \
		>>"$d/$1.log" 2>&1 &
	local pid=$!
	pr_on_exit "kill -9 $pid \$(cat '$d/$1.vrrp.pid' 2>/dev/null) 2>/dev/null"
	pr_wait_for 5 test -s "$d/$1.vrrp.pid" || pr_fail "keepalived $1 did not start: $(tail -5 "$d/$1.log")"
	eval "ka_pids_$1='$pid $(cat "$d/$1.vrrp.pid")'"
}

ka_kill() { # NAME
	local v="ka_pids_$1"
	# the VRRP child first: killed after its parent it may still say goodbye (priority 0)
	kill -9 $(echo ${!v} | awk '{print $2, $1}') 2>/dev/null || true
}

ka_state() { # NAME INSTANCE
	sed -n "s/.*(\($2\)) Entering \([A-Z]*\) STATE.*/\2/p" "$tmp/ka/$1.log" | tail -1
}

ka_wait_state() { # NAME INSTANCE STATE SECONDS
	pr_wait_for $4 sh -c "[ \"\$(sed -n 's/.*($2) Entering \([A-Z]*\) STATE.*/\1/p' '$tmp/ka/$1.log' | tail -1)\" = $3 ]"
}
