#!/usr/bin/env bash
# parallel: exclusive
# The appliance disk image (images/build-image.sh, docs/image.md) boots in QEMU/KVM with
# two virtio-net NICs on taps in a test namespace: management (kernel, systemd-networkd)
# and media (bound to uio_pci_generic by poprelay-nic-bind.service: the VM has no vIOMMU
# and Debian 12's kernel no VFIO no-IOMMU mode; driven by DPDK's virtio PMD). The first
# boot takes a NoCloud seed made here (config, TLS certificate and key, the ops account's
# SSH key, the management address, a relay user). Asserts: SSH with the seed's key, the
# media NIC bound and held by the dataplane as a PCI port, the dataplane's media address
# answering ARP and ping, `poprelayctl status` all up, no password anywhere, the data
# partition holding the configuration and Redis's data, the booted package set equal to
# the manifest next to the image; from the namespace, turnutils_uclient relays through the
# appliance's TURN with no loss and baresip registers over TLS with the seed's user. A
# reboot keeps the configuration and both users, and relaying works again. An in-place
# upgrade to a rebuilt package keeps the configuration, users and a registration and
# restarts Redis, dataplane and slowpath in order. Last, a fresh disk booted without a
# seed starts no service and no address, and its console says how to configure it.
# Reuses BUILD/image/poprelay.raw when its inputs did not change (build-image.sh). Under
# TCG it takes longer than tests/run.sh's 600 s: run it directly (docs/image.md).
source "$(dirname "$0")/../lib.sh"
# IMAGE_BOOT_ACCEL=tcg boots under QEMU's emulator instead of KVM (slow: for machines whose
# KVM cannot run this guest; the test then skips unless asked for tcg).
ACCEL=${IMAGE_BOOT_ACCEL:-kvm}
pr_need_root
[ -e /dev/kvm ] || pr_skip "no /dev/kvm (the image is booted with KVM)"
command -v qemu-system-x86_64 >/dev/null || pr_skip "no qemu-system-x86_64 (make deps installs qemu-system-x86)"
[ -e /usr/share/ovmf/OVMF.fd ] || pr_skip "no /usr/share/ovmf/OVMF.fd (make deps installs ovmf)"
command -v mkosi >/dev/null || pr_skip "no mkosi (make deps installs it)"
for t in mkfs.vfat mcopy qemu-img ssh ssh-keygen; do
	command -v $t >/dev/null || pr_skip "no $t (make deps)"
done
cd "$PR_ROOT" || exit 1
probe=$(pr_tmpdir)
if [ "$ACCEL" = kvm ]; then
	# Before building anything: does this machine's KVM run a guest at all? The UEFI
	# firmware alone prints to the serial port within a second or two when it does. (Under
	# some nested virtualization it does not: the firmware stops at its first x87
	# instruction with a KVM emulation failure, or prints nothing.)
	timeout 15 qemu-system-x86_64 -enable-kvm -cpu host,-arch-capabilities -m 256 -machine q35 \
		-bios /usr/share/ovmf/OVMF.fd -nodefaults -display none -serial "file:$probe/serial" \
		>"$probe/out" 2>&1
	grep -q "emulation failure" "$probe/out" || [ ! -s "$probe/serial" ] &&
		pr_skip "KVM runs no guest here (the UEFI firmware printed nothing in 15 s$(grep -q 'emulation failure' "$probe/out" && echo ': KVM emulation failure')); IMAGE_BOOT_ACCEL=tcg boots emulated"
fi

t0=$(date +%s)
img=$(images/build-image.sh "$BUILD" 0.1.0 | tail -1) && [ -s "$img" ] || pr_fail "image build failed"
t_build=$(($(date +%s) - t0))
pr_log "image: $img ($(du -m --apparent-size "$img" | cut -f1) MB) in ${t_build} s"

d=$(pr_tmpdir)
MGMT_MAC=52:54:00:c0:00:01 MEDIA_MAC=52:54:00:c0:00:02
VM_MGMT=192.0.2.10 HOST_MGMT=192.0.2.1 VM_MEDIA=198.51.100.10 HOST_MEDIA=198.51.100.1
MEDIA_PCI=0000:00:04.0

# --- the seed (NoCloud: a vfat disk labelled CIDATA) -----------------------------------
ssh-keygen -q -t ed25519 -N '' -C image-test -f "$d/key"
# the carrier's certificate for the management address (baresip checks it against that IP)
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=pop-test.invalid \
	-addext "subjectAltName=IP:$VM_MGMT,DNS:pop-test.invalid" \
	-keyout "$d/tls.key" -out "$d/tls.crt" 2>/dev/null
# The packaged configuration with this VM's media NIC and address; 2 vCPUs: lcore 0
# control, 1 worker (sleeping when idle: the host has few cores). TURN peers in the
# documentation range PEER lets in (refused by default); the slowpath offers MD5 digests
# only (baresip 1.0 aborts on a SHA-256 challenge, as in slowpath_baresip.sh).
PEER=203.0.113.5
sed -e "s#^device = .*#device = $MEDIA_PCI#" -e "s#^ipv4 = .*#ipv4 = $VM_MEDIA/24#" \
	-e "s#^gateway4 = .*#gateway4 = $HOST_MEDIA#" -e "s#^memory_mb = .*#memory_mb = 256#" \
	-e "s#^worker_idle_sleep_us = .*#worker_idle_sleep_us = 100#" -e "s#^rx_queues = .*#rx_queues = 2#" -e '/^ipv6 = /d' -e '/^gateway6 = /d' \
	-e 's#^\#\[turn\]#[turn]\nallowed_peer = 203.0.113.0/24#' -e 's#^\[sip\]#[sip]\ndigest_algorithms = MD5#' \
	images/poprelay.conf >"$d/poprelay.conf"
grep -q '^allowed_peer' "$d/poprelay.conf" && grep -q '^digest_algorithms' "$d/poprelay.conf" ||
	pr_fail "images/poprelay.conf changed: no [turn] or [sip] line to put the test's keys under"
# the relay's device account, made by the seed (poprelay_users): TURN and SIP
DEV=dev1 DEV_PW=Seed-device-pw-73q
indent() { sed 's/^/      /' "$1"; }
cat >"$d/meta-data" <<EOF
instance-id: image-test-1
local-hostname: pop-test
EOF
cat >"$d/user-data" <<EOF
#cloud-config
users:
  - name: ops
    ssh_authorized_keys:
      - $(cat "$d/key.pub")
    sudo: ALL=(ALL) NOPASSWD:ALL
poprelay_users:
  - name: $DEV
    password: $DEV_PW
write_files:
  - path: /etc/systemd/network/10-mgmt.network
    content: |
      [Match]
      MACAddress=$MGMT_MAC
      [Network]
      Address=$VM_MGMT/24
  - path: /etc/poprelay/nic-bind.conf
    content: |
      driver = uio_pci_generic
  - path: /etc/poprelay/poprelay.conf
    owner: root:poprelay
    permissions: '0640'
    content: |
$(indent "$d/poprelay.conf")
  - path: /etc/poprelay/tls/slowpath.crt
    owner: root:poprelay
    permissions: '0640'
    content: |
$(indent "$d/tls.crt")
  - path: /etc/poprelay/tls/slowpath.key
    owner: root:poprelay
    permissions: '0640'
    content: |
$(indent "$d/tls.key")
EOF
mkfs.vfat -C -n CIDATA "$d/seed.img" 1024 >/dev/null
mcopy -i "$d/seed.img" "$d/meta-data" "$d/user-data" ::

# --- the VM ------------------------------------------------------------------------------
qemu-img create -q -f qcow2 -b "$img" -F raw "$d/disk.qcow2"
ns="img-ns"
pr_netns $ns
for t in tapm:$HOST_MGMT tapd:$HOST_MEDIA; do
	mq=; [ "${t%%:*}" = tapd ] && mq=multi_queue # the media NIC has 2 queue pairs
	ip -n $ns tuntap add dev "${t%%:*}" mode tap $mq || pr_fail "tap ${t%%:*}"
	ip -n $ns addr add "${t#*:}/24" dev "${t%%:*}"
	ip -n $ns link set "${t%%:*}" up
done
# the TURN peer, off the media prefix: the dataplane reaches it through its gateway (tapd)
ip -n $ns addr add $PEER/32 dev tapd
ip netns exec $ns turnutils_peer -L $PEER -p 3480 >"$d/peer.log" 2>&1 &
pr_on_exit "kill $!"
# KVM: -cpu host without arch-capabilities (under nested KVM, QEMU 7.2 cannot set that MSR
# and aborts). TCG: -cpu max (the image's binaries are built for x86-64 corei7).
# shellcheck disable=SC2054 # the commas are QEMU's
if [ "$ACCEL" = kvm ]; then accel=(-enable-kvm -cpu host,-arch-capabilities); wait_s=180
else accel=(-accel tcg -cpu max); wait_s=420; fi
boot() { # LOG: start the VM (console to LOG), registered for kill at exit
	ip netns exec $ns qemu-system-x86_64 "${accel[@]}" -smp 2 -m 2048 -machine q35 \
		-bios /usr/share/ovmf/OVMF.fd -display none -serial "file:$1" -monitor none \
		-drive "if=virtio,format=qcow2,file=$d/disk.qcow2" \
		-drive "if=virtio,format=raw,file=$d/seed.img,readonly=on" \
		-netdev tap,id=m,ifname=tapm,script=no,downscript=no -device "virtio-net-pci,netdev=m,mac=$MGMT_MAC,addr=0x3" \
		-netdev tap,id=d,ifname=tapd,script=no,downscript=no,queues=2 \
		-device "virtio-net-pci,netdev=d,mac=$MEDIA_MAC,addr=0x4,mq=on,vectors=6" \
		-daemonize -pidfile "$d/qemu.pid" || pr_fail "qemu did not start"
	pr_on_exit "kill \$(cat '$d/qemu.pid')"
}
# within S CMD...: retry CMD every second until it succeeds or S seconds passed (pr_wait_for
# counts tries, and one try of ssh or ping here can take seconds)
within() {
	local end=$((SECONDS + $1)); shift
	while ((SECONDS < end)); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
	return 1
}
keep_console() { cp "$d"/console*.log "$BUILD/image/" 2>/dev/null; }
pr_on_exit keep_console
vm() { ip netns exec $ns ssh -q -i "$d/key" -o BatchMode=yes -o StrictHostKeyChecking=no \
	-o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 ops@$VM_MGMT "$@"; }
fail_vm() { # MSG: fail with the console's last lines and, if SSH works, the journal's
	echo "--- console (tail)"; tail -30 "$d"/console*.log 2>/dev/null | tail -30
	echo "--- journal (poprelay units)"; vm sudo journalctl -b --no-pager -n 40 -u 'poprelay-*' 2>/dev/null
	# IMAGE_BOOT_HOLD=S: keep the VM up S seconds to look at it (ssh key in the directory)
	[ -z "${IMAGE_BOOT_HOLD:-}" ] || { echo "FAIL: $* (VM held ${IMAGE_BOOT_HOLD} s: $d, netns $ns)"; sleep "$IMAGE_BOOT_HOLD"; }
	pr_fail "$*"
}
media_checks() { # what every boot must show
	within 60 ip netns exec $ns ping -c1 -W1 $VM_MEDIA || fail_vm "media address $VM_MEDIA does not answer ping"
	ip netns exec $ns ip neigh show $VM_MEDIA dev tapd | grep -qi "lladdr $MEDIA_MAC" ||
		fail_vm "ARP for $VM_MEDIA did not give the media NIC's MAC: $(ip netns exec $ns ip neigh show dev tapd)"
	ip netns exec $ns ping -c5 -i0.2 -W1 $VM_MEDIA >"$d/ping" || fail_vm "ping loss to $VM_MEDIA: $(tail -2 "$d/ping")"
	# the NIC is held by the dataplane, not the kernel: bound to uio_pci_generic, no netdev
	# (2 queue pairs: the dataplane wants a TX queue per worker and one for control), and
	# DPDK's port 0 is that PCI device (its PMD for a virtio PCI NIC is net_virtio)
	[ "$(vm readlink /sys/bus/pci/devices/$MEDIA_PCI/driver | xargs basename)" = uio_pci_generic ] ||
		fail_vm "$MEDIA_PCI is not bound to uio_pci_generic"
	[ -z "$(vm ls /sys/bus/pci/devices/$MEDIA_PCI/net 2>/dev/null)" ] || fail_vm "$MEDIA_PCI still has a kernel netdev"
	vm sudo python3 - >"$d/ethinfo" 2>&1 <<-'PY'
	import socket
	s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
	s.connect("/var/run/dpdk/poprelay/dpdk_telemetry.v2")
	s.recv(4096)
	s.send(b"/ethdev/info,0")
	print(s.recv(65536).decode())
	PY
	grep -Eq "\"name\": ?\"$MEDIA_PCI\"" "$d/ethinfo" || fail_vm "DPDK port 0 is not $MEDIA_PCI: $(cat "$d/ethinfo")"
	# the slowpath may still be (re)starting when the media address answers: up to 60 s
	local i
	for i in $(seq 30); do
		vm sudo poprelayctl status >"$d/status" 2>&1 && break
		sleep 2
	done
	vm sudo poprelayctl status >"$d/status" 2>&1 || fail_vm "poprelayctl status: $(cat "$d/status")"
	for p in dataplane redis slowpath; do
		grep -Eq "^ *$p +up" "$d/status" || fail_vm "status: $p not up: $(cat "$d/status")"
	done
	# the exporter, under its sandbox, serves the dataplane's figures
	vm python3 - >"$d/metrics" 2>&1 <<-'PY' ||
	import urllib.request
	print(urllib.request.urlopen("http://127.0.0.1:9469/metrics", timeout=5).read().decode())
	PY
		fail_vm "the exporter does not serve /metrics: $(tail -3 "$d/metrics")"
	grep -q '^poprelay_up{process="dataplane"} 1' "$d/metrics" ||
		fail_vm "the exporter does not see the dataplane up: $(grep poprelay_up "$d/metrics")"
}

# turn_check NAME: coturn's turnutils_uclient, in the test namespace, allocates with the
# seed's user on the appliance's TURN listener (the media address, on the DPDK NIC) and
# relays through it to turnutils_peer (channels, 2 clients, 30 datagrams each way, paced):
# every datagram must come back.
turn_check() {
	local out=$d/uc-$1.log rc=0 lost
	timeout 120 ip netns exec $ns turnutils_uclient -u $DEV -w "$DEV_PW" -e $PEER -r 3480 \
		-m 2 -n 30 -l 200 -z 20 -c $VM_MEDIA >"$out" 2>&1 || rc=$?
	lost=$(sed -n 's/.*Total lost packets \([0-9]*\).*/\1/p' "$out" | tail -1)
	[ "$rc" = 0 ] && [ "$lost" = 0 ] || { tail -15 "$out"; fail_vm "$1: TURN relaying through the image: rc=$rc lost=${lost:-?}"; }
	pr_log "$1: TURN relayed with no loss ($(sed -n 's/.*\(Total lost packets.*\)/\1/p' "$out" | tail -1))"
}
# sip_register NAME: a baresip device registers over TLS (the seed's certificate, checked
# against the management address) to the slowpath with the seed's user; the registration
# is read back in the appliance (poprelayctl user show). baresip is then killed without
# unregistering, so the binding stays in Redis until it expires.
sip_register() {
	local b=$d/bs-$1
	mkdir -p "$b"
	cat >"$b/config" <<-CFG
	poll_method epoll
	sip_listen $HOST_MGMT:5070
	sip_cafile $d/tls.crt
	sip_trans_def tls
	net_interface $HOST_MGMT
	module_path /usr/lib/baresip/modules
	module g711.so
	module srtp.so
	module_app account.so
	module_app menu.so
	CFG
	echo "<sip:$DEV@poprelay;transport=tls>;auth_pass=$DEV_PW;outbound=\"sip:$VM_MGMT:5061;transport=tls\";mediaenc=srtp-mand;regint=3600" >"$b/accounts"
	ip netns exec $ns baresip -s -f "$b" >"$b.log" 2>&1 </dev/null &
	local bpid=$!
	pr_on_exit "kill -9 $bpid 2>/dev/null"
	within 60 sh -c "ip netns exec $ns ssh -q -i '$d/key' -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=3 ops@$VM_MGMT sudo poprelayctl user show $DEV | grep -Eq '^registration +.* via tls from $HOST_MGMT:'" ||
		{ tail -20 "$b.log"; fail_vm "$1: baresip did not register over TLS ($(vm sudo poprelayctl user show $DEV | grep ^registration))"; }
	{ kill -9 $bpid && wait $bpid; } 2>/dev/null
	pr_log "$1: baresip registered over TLS: $(vm sudo poprelayctl user show $DEV | grep ^registration | tr -s ' ')"
}

# --- first boot ----------------------------------------------------------------------------
tb=$(date +%s)
boot "$d/console-boot1.log"
within $wait_s vm true || fail_vm "no SSH to ops@$VM_MGMT with the seed's key within $wait_s s"
t_ssh=$(($(date +%s) - tb))
media_checks
t_ping=$(($(date +%s) - tb))
pr_log "first boot: SSH after ${t_ssh} s, media checks done after ${t_ping} s"

# The TCP/TLS TURN front is not enabled (the seed's configuration has no [turn_front]).
[ "$(vm systemctl is-enabled poprelay-turnfront.service)" = disabled ] ||
	fail_vm "poprelay-turnfront is enabled: $(vm systemctl is-enabled poprelay-turnfront.service)"
vm sudo journalctl -b -u poprelay-nic-bind --no-pager | grep -q "$MEDIA_PCI bound to uio_pci_generic" ||
	fail_vm "no bind message in the journal"
vm sudo cat /etc/poprelay/tls/slowpath.crt | cmp -s - "$d/tls.crt" || fail_vm "the seed's certificate is not installed"
# No password anywhere: every account's shadow field locked or empty-locked ('!' or '*').
vm "sudo awk -F: '\$2 !~ /^[!*]/ {print \$1}' /etc/shadow" >"$d/pw" || fail_vm "cannot read /etc/shadow"
[ ! -s "$d/pw" ] || fail_vm "accounts with a password: $(cat "$d/pw")"
# sshd's effective settings: keys only, no root
vm sudo sshd -T >"$d/sshd" || fail_vm "sshd -T failed"
for k in "passwordauthentication no" "kbdinteractiveauthentication no" "permitrootlogin no"; do
	grep -qx "$k" "$d/sshd" || fail_vm "sshd: not '$k': $(grep "^${k% *} " "$d/sshd")"
done
# The data partition (the disk's third, labelled poprelay-data) holds the configuration,
# Redis's data and the seed's state, bound onto their usual paths.
[ "$(vm sudo blkid -s LABEL -o value /dev/vda3)" = poprelay-data ] || fail_vm "/dev/vda3 is not labelled poprelay-data"
for m in /etc/poprelay:etc /var/lib/poprelay:lib /var/lib/poprelay-image:image; do
	src=$(vm findmnt -n -o SOURCE "${m%%:*}")
	[ "$src" = "/dev/vda3[/${m#*:}]" ] || fail_vm "${m%%:*} is not on the data partition: ${src:-not a mount point}"
done
vm sudo test -d /var/lib/poprelay-data/lib/redis/appendonlydir || vm sudo test -s /var/lib/poprelay-data/lib/redis/appendonly.aof ||
	fail_vm "no Redis append-only file on the data partition"
# the seed's relay user, added once Redis ran, and its password gone from the disk
vm sudo journalctl -b -u poprelay-seed-users --no-pager | grep -q "user $DEV: added" ||
	fail_vm "the seed's relay user $DEV was not added"
vm sudo test -e /var/lib/poprelay-image/users.pending && fail_vm "the seed's user passwords are still on the disk"
vm sudo grep -rlF "$DEV_PW" /etc /var/lib 2>/dev/null && fail_vm "the seed's user password is on the disk"
turn_check boot1
sip_register boot1
# The package set of the running appliance is the one listed next to the image.
vm "dpkg-query -W -f '\${Package} \${Version} \${Architecture}\n'" | sort >"$d/vm.packages" ||
	fail_vm "dpkg-query in the VM failed"
cmp -s "$d/vm.packages" "${img%.raw}.packages" ||
	fail_vm "the VM's packages differ from ${img%.raw}.packages: $(diff "$d/vm.packages" "${img%.raw}.packages" | head -5)"
for p in poprelay redis-server dpdk linux-image-amd64; do
	grep -q "^$p " "${img%.raw}.packages" || pr_fail "${img%.raw}.packages does not list $p"
done
python3 -c "import json,sys; m=json.load(open(sys.argv[1])); assert len(m['packages']) > 100, len(m['packages'])" \
	"${img%.raw}.manifest" || pr_fail "${img%.raw}.manifest is not mkosi's package manifest"
printf 'Image-test-pw9\n' >"$d/upw"
vm sudo poprelayctl user add imguser --password-file /dev/stdin <"$d/upw" >/dev/null ||
	fail_vm "poprelayctl user add failed"

# --- reboot: the configuration and the user stay ---------------------------------------------
pr_log "reboot"
vm sudo systemctl reboot || true
within 60 sh -c "! kill -0 \$(cat '$d/qemu.pid') 2>/dev/null || ! ip netns exec $ns ping -c1 -W1 $VM_MGMT" || true
sleep 5
tb=$(date +%s)
within $wait_s vm true || fail_vm "no SSH after the reboot"
vm sudo journalctl -b -u poprelay-seed --no-pager | grep -q "already applied" ||
	fail_vm "the seed was applied again on reboot"
media_checks
pr_log "reboot: media checks done after $(($(date +%s) - tb)) s"
vm sudo poprelayctl user list >"$d/users" || fail_vm "poprelayctl user list failed"
grep -qw imguser "$d/users" || fail_vm "the user added before the reboot is gone"
grep -qw $DEV "$d/users" || fail_vm "the seed's user is gone after the reboot"
vm sudo cat /etc/poprelay/poprelay.conf | cmp -s - "$d/poprelay.conf" || fail_vm "the configuration changed across the reboot"
turn_check reboot

# --- upgrade in place: a rebuilt package, a higher version ----------------------------------
pr_log "upgrade"
sip_register upgrade
pids() { vm systemctl show -p MainPID --value poprelay-redis poprelay-dataplane poprelay-slowpath | paste -sd' '; }
pids0=$(pids)
deb=$(images/build-deb.sh "$BUILD/image/bin" 0.1.1) || pr_fail "building the upgrade package failed"
pr_on_exit "rm -f '$deb'"
vm "cat >/tmp/poprelay.deb" <"$deb" || fail_vm "copying the package into the VM failed"
since=$(vm date +%s)
# --force-confold: a configuration changed on the machine is always kept, even when the
# new package's default changed (without it dpkg would ask)
vm sudo DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold /tmp/poprelay.deb >"$d/upgrade.log" 2>&1 ||
	{ cat "$d/upgrade.log"; fail_vm "dpkg -i of the upgrade failed"; }
[ "$(vm "dpkg-query -W -f '\${Version}' poprelay")" = 0.1.1 ] || fail_vm "poprelay is not at 0.1.1 after the upgrade"
pids1=$(pids)
set -- $pids0; for p in $pids1; do
	[ "$p" != 0 ] && [ "$p" != "$1" ] || fail_vm "not every service restarted by the upgrade (MainPIDs $pids0 -> $pids1)"
	shift
done
# restarted in order: the last start of Redis, then the dataplane's, then the slowpath's
vm sudo journalctl --since "@$since" -o cat --no-pager -u poprelay-redis -u poprelay-dataplane \
	-u poprelay-slowpath | grep -o '^Started poprelay-[a-z]*' | tac | awk '!seen[$2]++' | tac |
	sed 's/Started poprelay-//' | paste -sd' ' >"$d/order"
[ "$(cat "$d/order")" = "redis dataplane slowpath" ] || fail_vm "services not restarted in order: $(cat "$d/order")"
media_checks
vm sudo cat /etc/poprelay/poprelay.conf | cmp -s - "$d/poprelay.conf" || fail_vm "the upgrade changed the configuration"
vm sudo poprelayctl user list >"$d/users" || fail_vm "poprelayctl user list failed"
grep -qw imguser "$d/users" && grep -qw $DEV "$d/users" || fail_vm "users lost by the upgrade: $(cat "$d/users")"
vm sudo poprelayctl user show $DEV | grep -Eq "^registration +.* via tls from $HOST_MGMT:" ||
	fail_vm "the registration did not survive the upgrade"
turn_check upgrade
pr_log "upgrade: 0.1.0 -> 0.1.1, restarted in order ($(cat "$d/order")), users, registration, configuration kept"
# --- no seed: nothing starts, the console says how to configure --------------------------
pr_log "boot without a seed"
vm sudo systemctl poweroff || true
within 120 sh -c "! kill -0 \$(cat '$d/qemu.pid') 2>/dev/null" || kill "$(cat "$d/qemu.pid")"
qemu-img create -q -f qcow2 -b "$img" -F raw "$d/disk.qcow2"
rm -f "$d/seed.img" && truncate -s 1M "$d/seed.img" # a blank second disk: no CIDATA label
tb=$(date +%s)
boot "$d/console-noseed.log"
within $wait_s grep -aq "login:" "$d/console-noseed.log" || fail_vm "no login prompt without a seed"
grep -aq "poprelay-seed: not configured: no service started" "$d/console-noseed.log" ||
	fail_vm "the console does not say the appliance is not configured"
grep -aq "poprelay appliance: not configured. Attach a NoCloud seed" "$d/console-noseed.log" ||
	fail_vm "the login prompt does not say how to configure the appliance"
sed 's/\x1b\[[0-9;]*m//g' "$d/console-noseed.log" | grep -aE "Started (poprelay-|ssh\.service)" &&
	fail_vm "a service started without a seed"
ip netns exec $ns ping -c1 -W2 $VM_MGMT >/dev/null 2>&1 && fail_vm "the management address is up without a seed"
pr_log "no seed: login prompt after $(($(date +%s) - tb)) s, no service, no address"
pr_log "image_boot: pass (build/reuse ${t_build} s, boot to SSH ${t_ssh} s, to media checks ${t_ping} s)"
