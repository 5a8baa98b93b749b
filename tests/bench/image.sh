#!/usr/bin/env bash
# The appliance disk image (narrative: tests/bench/image.md), JSON lines for
# tests/bench/run.sh:
#   image_size_mb         the raw disk's size (baseline: the same disk as qcow2);
#   image_build_s         images/build-image.sh after a change under images/ (mkosi's
#                         package cache kept; baseline: the same script on an unchanged tree);
#   image_boot_to_ping_s  QEMU started -> the dataplane's media address answers ping
#                         (DPDK's virtio PMD on a NIC bound to uio_pci_generic); baseline:
#                         the same image, same run, with the dataplane disabled: its seed
#                         gives no poprelay configuration, so no poprelay service starts and
#                         the kernel (systemd-networkd) answers on the same NIC and address.
# Boots as tests/integration/image_boot.sh does (UEFI, two virtio-net NICs on taps in a
# namespace, a NoCloud seed), with KVM when this machine's KVM runs a guest, else under
# QEMU's emulator (TCG; IMAGE_BOOT_ACCEL=kvm|tcg forces one): the note says which.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
pr_need_root
for t in qemu-system-x86_64 mkosi mkfs.vfat mcopy qemu-img; do
	command -v $t >/dev/null || pr_skip "no $t (make deps)"
done
[ -e /usr/share/ovmf/OVMF.fd ] || pr_skip "no /usr/share/ovmf/OVMF.fd (make deps installs ovmf)"
cd "$PR_ROOT"
d=$(pr_tmpdir)
ACCEL=${IMAGE_BOOT_ACCEL:-auto}
if [ "$ACCEL" = auto ]; then
	ACCEL=tcg
	# the probe of image_boot.sh: the UEFI firmware prints within seconds under a working KVM
	if [ -e /dev/kvm ]; then
		timeout 15 qemu-system-x86_64 -enable-kvm -cpu host,-arch-capabilities -m 256 -machine q35 \
			-bios /usr/share/ovmf/OVMF.fd -nodefaults -display none -serial "file:$d/probe" >/dev/null 2>&1 || true
		[ -s "$d/probe" ] && ACCEL=kvm
	fi
fi
# shellcheck disable=SC2054 # the commas are QEMU's
if [ "$ACCEL" = kvm ]; then accel=(-enable-kvm -cpu host,-arch-capabilities); wait_s=180
else accel=(-accel tcg -cpu max); wait_s=600; fi

# --- build: a change under images/ (the image's own inputs), then no change -------------
VER=0.1.0
images/build-image.sh "$BUILD" $VER >/dev/null # the binaries and caches, not timed
rm -f "$BUILD/image/poprelay.inputs"           # as if a file under images/ had changed
t0=$(date +%s.%N)
img=$(images/build-image.sh "$BUILD" $VER | tail -1)
t_build=$(echo "$(date +%s.%N) - $t0" | bc)
t0=$(date +%s.%N)
images/build-image.sh "$BUILD" $VER >/dev/null
t_nochange=$(echo "$(date +%s.%N) - $t0" | bc)
raw_mb=$(du -m --apparent-size "$img" | cut -f1)
used_mb=$(du -m "$img" | cut -f1)
qcow_mb=$(du -m --apparent-size "${img%.raw}.qcow2" | cut -f1)
npkg=$(wc -l <"${img%.raw}.packages")

# --- boots -----------------------------------------------------------------------------
MGMT_MAC=52:54:00:c0:00:01 MEDIA_MAC=52:54:00:c0:00:02
VM_MEDIA=198.51.100.10 HOST_MEDIA=198.51.100.1 MEDIA_PCI=0000:00:04.0
ns=imgb-ns
pr_netns $ns
for t in tapm tapd; do
	mq=; [ $t = tapd ] && mq=multi_queue
	ip -n $ns tuntap add dev $t mode tap $mq
	ip -n $ns link set $t up
done
ip -n $ns addr add $HOST_MEDIA/24 dev tapd
sed -e "s#^device = .*#device = $MEDIA_PCI#" -e "s#^ipv4 = .*#ipv4 = $VM_MEDIA/24#" \
	-e "s#^gateway4 = .*#gateway4 = $HOST_MEDIA#" -e "s#^memory_mb = .*#memory_mb = 256#" \
	-e "s#^worker_idle_sleep_us = .*#worker_idle_sleep_us = 100#" -e "s#^rx_queues = .*#rx_queues = 2#" -e '/^ipv6 = /d' -e '/^gateway6 = /d' \
	images/poprelay.conf | sed 's/^/      /' >"$d/conf"
# seed MODE: dataplane (the configuration, uio_pci_generic) or kernel (the media NIC's
# address given to systemd-networkd, no poprelay configuration)
seed() {
	local s=$d/seed-$1
	mkdir -p "$s"
	printf 'instance-id: bench-%s\nlocal-hostname: pop-bench\n' "$1" >"$s/meta-data"
	if [ "$1" = dataplane ]; then
		printf '#cloud-config\nwrite_files:\n  - path: /etc/poprelay/nic-bind.conf\n    content: |\n      driver = uio_pci_generic\n  - path: /etc/poprelay/poprelay.conf\n    owner: root:poprelay\n    permissions: %s\n    content: |\n%s\n' \
			"'0640'" "$(cat "$d/conf")" >"$s/user-data"
	else
		printf '#cloud-config\nwrite_files:\n  - path: /etc/systemd/network/20-media.network\n    content: |\n      [Match]\n      MACAddress=%s\n      [Network]\n      Address=%s/24\n' \
			$MEDIA_MAC $VM_MEDIA >"$s/user-data"
	fi
	mkfs.vfat -C -n CIDATA "$s.img" 1024 >/dev/null
	mcopy -i "$s.img" "$s/meta-data" "$s/user-data" ::
}
# boot MODE: T_BOOT = seconds from QEMU's start to the first answer of the media address
# (not in a $(...) subshell: the QEMU it starts is killed by this shell's exit handler)
boot() {
	seed "$1"
	qemu-img create -q -f qcow2 -b "$img" -F raw "$d/disk-$1.qcow2"
	ip netns exec $ns ip neigh flush dev tapd
	local t0 t
	t0=$(date +%s.%N)
	ip netns exec $ns qemu-system-x86_64 "${accel[@]}" -smp 2 -m 2048 -machine q35 \
		-bios /usr/share/ovmf/OVMF.fd -display none -serial "file:$d/console-$1.log" -monitor none \
		-drive "if=virtio,format=qcow2,file=$d/disk-$1.qcow2" \
		-drive "if=virtio,format=raw,file=$d/seed-$1.img,readonly=on" \
		-netdev tap,id=m,ifname=tapm,script=no,downscript=no -device "virtio-net-pci,netdev=m,mac=$MGMT_MAC,addr=0x3" \
		-netdev tap,id=d,ifname=tapd,script=no,downscript=no,queues=2 \
		-device "virtio-net-pci,netdev=d,mac=$MEDIA_MAC,addr=0x4,mq=on,vectors=6" \
		-daemonize -pidfile "$d/qemu-$1.pid" >&2 || pr_fail "qemu did not start"
	pr_on_exit "kill \$(cat '$d/qemu-$1.pid') 2>/dev/null"
	while ! ip netns exec $ns ping -c1 -W1 -q $VM_MEDIA >/dev/null 2>&1; do
		t=$(echo "$(date +%s.%N) - $t0" | bc)
		if [ "${t%.*}" -ge $wait_s ]; then
			tail -20 "$d/console-$1.log" >&2
			pr_fail "$1: $VM_MEDIA did not answer within $wait_s s"
		fi
		sleep 0.5
	done
	t=$(echo "$(date +%s.%N) - $t0" | bc)
	# who answered: both answer with the media NIC's MAC, so ask the serial console: the
	# dataplane's start (its line may come a little after its first answer), or the seed
	# reader's "not configured" (then no poprelay service starts at all)
	local _ want="Started poprelay-dataplane"
	[ "$1" = kernel ] && want="poprelay-seed: not configured"
	for _ in $(seq 60); do
		sed 's/\x1b\[[0-9;]*m//g' "$d/console-$1.log" | grep -aq "$want" && break
		sleep 1
	done
	sed 's/\x1b\[[0-9;]*m//g' "$d/console-$1.log" | grep -aq "$want" ||
		{ tail -20 "$d/console-$1.log" >&2; pr_fail "$1 boot: no '$want' on the console"; }
	if [ "$1" = kernel ] && sed 's/\x1b\[[0-9;]*m//g' "$d/console-$1.log" | grep -aq "Started poprelay-"; then
		pr_fail "kernel boot: a poprelay service started"
	fi
	kill "$(cat "$d/qemu-$1.pid")"
	sleep 2
	T_BOOT=$(printf '%.1f' "$t")
}
boot dataplane
t_dp=$T_BOOT
boot kernel
t_kernel=$T_BOOT
pr_log "build ${t_build} s (unchanged ${t_nochange} s), raw ${raw_mb} MB (${used_mb} MB used), qcow2 ${qcow_mb} MB, boot to ping: dataplane ${t_dp} s, kernel ${t_kernel} s ($ACCEL)"

an="QEMU $( [ "$ACCEL" = kvm ] && echo with KVM || echo 'under TCG (emulated: KVM runs no guest on this machine)')"
printf '{"name": "image_size_mb", "value": %s, "unit": "MB", "baseline": "the same disk as qcow2", "baseline_value": %s, "note": "poprelay.raw, GPT: ESP + ext4 root; %s MB allocated; %s Debian packages (poprelay.packages)"}\n' \
	"$raw_mb" "$qcow_mb" "$used_mb" "$npkg"
printf '{"name": "image_build_s", "value": %.1f, "unit": "s", "baseline": "images/build-image.sh on an unchanged tree, same run", "baseline_value": %.1f, "note": "after a change under images/: mkosi from its cached package set, the package installed in a chroot, the ESP, mkfs.ext4 -d, qcow2; the initrd and the downloads cached"}\n' \
	"$t_build" "$t_nochange"
printf '{"name": "image_boot_to_ping_s", "value": %s, "unit": "s", "baseline": "the same image with the dataplane disabled (boot to a kernel ping), same run", "baseline_value": %s, "note": "from QEMU started to the first ping answered by the media address, UEFI, 2 vCPUs, %s"}\n' \
	"$t_dp" "$t_kernel" "$an"
