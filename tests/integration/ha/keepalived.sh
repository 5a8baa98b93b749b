# keepalived for the two appliances of tests/integration/ha/haenv.sh (source after it and
# after he_topology): the shipped configuration (images/keepalived-poprelay.conf, B's, and
# A's mirror of it) and the shipped hook script (images/poprelay-ha-notify), run in the
# appliances' namespaces with the names substituted.
#
#   ka_topology       a kernel interface per appliance on the segment's bridge, for VRRP
#                     (the dataplane's port is DPDK's): NS-a's ${NS}a1 192.0.2.1/24, NS-b's
#                     ${NS}b1 192.0.2.2/24
#   ka_conf NAME      to stdout, NAME's keepalived.conf (B's is the shipped one, A's its
#                     mirror): interface ${NS}NAME1, the hook and the track scripts'
#                     poprelayctl as copies in $tmp/ka (root's: keepalived's
#                     enable_script_security refuses a script others could change) with -c
#                     $tmp/NAME.conf; its vrrp_notify_fifo $tmp/ka/NAME.fifo (the dataplane's
#                     [ha] vrrp_fifo); KA_NOTIFY=yes adds the notify hook (the shipped file
#                     has it commented out: the FIFO does its work), KA_FIFO=no leaves out the
#                     FIFO, KA_SERVING=no has the own instance track poprelay_alive (tests
#                     that must be seen failing)
#   ka_start NAME     keepalived (VRRP only) in NS-NAME with ka_conf's $tmp/ka/NAME.conf
#   ka_run NS NAME    keepalived (VRRP only) in NS with $tmp/ka/NAME.conf (checked with -t
#                     first), its log (new at each start) in $tmp/ka/NAME.log; ka_pids_NAME:
#                     its parent and VRRP child
#   ka_kill NAME      kill -9 of both (once: a second call kills nothing)
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
	python3 - "$PR_ROOT/images/keepalived-poprelay.conf" "$1" "$HE_NS$11" "$tmp" "${KA_NOTIFY:-no}" "${KA_SERVING:-yes}" "${KA_FIFO:-yes}" <<'PY'
import re, sys
src, name, ifname, tmp, notify, serving, fifo = sys.argv[1:]
text = open(src).read()
assert "vrrp_notify_fifo /run/poprelay-vrrp.fifo" in text
text = text.replace("vrrp_notify_fifo /run/poprelay-vrrp.fifo",
                    "vrrp_notify_fifo %s/ka/%s.fifo" % (tmp, name) if fifo == "yes" else "")
ctl = "%s/ka/poprelayctl -c %s/%s.conf" % (tmp, tmp, name)
hook = '"%s/ka/poprelay-ha-notify -c %s/%s.conf"' % (tmp, tmp, name)
text = text.replace("interface eth0", "interface " + ifname)
text = text.replace('"/usr/bin/poprelayctl ha status"', '"%s ha status"' % ctl)
text = text.replace('"/usr/lib/poprelay/poprelay-ha-notify --serving"',
                    '"%s/ka/poprelay-ha-notify -c %s/%s.conf --serving"' % (tmp, tmp, name))
text = text.replace("router_id poprelay-b", "router_id poprelay-" + name)
blocks = re.split(r"(?m)^(?=vrrp_instance )", text)
out = [blocks[0]]
for b in blocks[1:]:
    inst = b.split()[1]
    own = inst == "poprelay_" + name
    b = re.sub(r"(?m)^\tnotify .*\n", "", b)
    b = re.sub(r"priority \d+", "priority %d" % (150 if own else 100), b)
    b = re.sub(r"(track_script \{\s*)poprelay_\w+",
               r"\g<1>poprelay_" + ("serving" if own and serving == "yes" else "alive"), b)
    if not own and notify == "yes":
        b = b.replace("\ttrack_script {", "\tnotify %s\n\ttrack_script {" % hook, 1)
    out.append(b)
print("".join(out), end="")
PY
}

ka_start() { # NAME
	ka_conf $1 >"$tmp/ka/$1.conf"
	ka_run $HE_NS-$1 $1
}

ka_run() { # NS NAME: keepalived in NS with $tmp/ka/NAME.conf
	local d=$tmp/ka ns=$1 name=$2
	ip netns exec $ns keepalived -t -f "$d/$name.conf" >"$d/$name.check" 2>&1 ||
		pr_fail "keepalived -t refused $d/$name.conf: $(cat "$d/$name.check")"
	rm -f "$d/$name.pid" "$d/$name.vrrp.pid" "$d/$name.chk.pid"
	# --no-syslog: its log goes to the file through --log-console only. With no syslog
	# daemon (no /dev/log, as on the test VMs) syslog(3) falls back to /dev/console for
	# every line (keepalived opens it with LOG_CONS), a serial console here: some 6 ms of
	# writes between VRRP's MASTER advert and the notify hook's start, which an appliance
	# (journald's /dev/log) does not pay (tests/bench/ha_failover.md)
	ip netns exec $ns keepalived --vrrp --dont-fork --log-console --log-detail --no-syslog \
		-f "$d/$name.conf" -p "$d/$name.pid" -r "$d/$name.vrrp.pid" -c "$d/$name.chk.pid" \
		>"$d/$name.log" 2>&1 &
	local pid=$!
	pr_wait_for 5 test -s "$d/$name.vrrp.pid" || pr_fail "keepalived $name did not start: $(tail -5 "$d/$name.log")"
	eval "ka_pids_$name='$pid $(cat "$d/$name.vrrp.pid")'"
	pr_on_exit "ka_kill $name"
}

ka_kill() { # NAME
	local v="ka_pids_$1"
	# the VRRP child first: killed after its parent it may still say goodbye (priority 0)
	[ -n "${!v:-}" ] && kill -9 $(echo ${!v} | awk '{print $2, $1}') 2>/dev/null
	eval "$v="
	return 0
}

ka_state() { # NAME INSTANCE
	sed -n "s/.*(\($2\)) Entering \([A-Z]*\) STATE.*/\2/p" "$tmp/ka/$1.log" | tail -1
}

ka_wait_state() { # NAME INSTANCE STATE SECONDS
	pr_wait_for $4 sh -c "[ \"\$(sed -n 's/.*($2) Entering \([A-Z]*\) STATE.*/\1/p' '$tmp/ka/$1.log' | tail -1)\" = $3 ]"
}
