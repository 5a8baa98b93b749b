#!/usr/bin/env bash
# images/build-image.sh BUILD_DIR VERSION -> BUILD_DIR/image/poprelay.{raw,qcow2,packages}
# (and mkosi's JSON manifest of the Debian package set, poprelay.manifest)
# The bootable appliance disk image (docs/image.md): mkosi 14 (Debian's) installs Debian 12
# packages, the poprelay package (images/build-deb.sh) of this tree's binaries (built in
# BUILD_DIR/image/bin, see below) and the image's
# own first-boot units (images/mkosi/). Root only (debootstrap, chroot, bind mounts).
#
# Two caches under BUILD_DIR/image/, so an unchanged tree costs nothing and a changed one
# only the final phase:
#  - the image itself: rebuilt only when its inputs (the binaries, images/, this script)
#    changed, as recorded in poprelay.inputs;
#  - mkosi's incremental image of the installed Debian packages (poprelay.cache-pre-inst)
#    and its package download cache (pkgcache/), kept while mkosi.conf and the package's
#    dependency list stay the same (poprelay.cache-key).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}; VER=${2:-0.1.0}
case $B in /*) ;; *) B=$PWD/$B ;; esac
out=$B/image
mkdir -p "$out"
[ "$(id -u)" = 0 ] || { echo "build-image: needs root (mkosi)" >&2; exit 1; }
command -v mkosi >/dev/null || { echo "build-image: mkosi is not installed (make deps)" >&2; exit 1; }

# The binaries for the image, built apart from BUILD_DIR's: the Makefile builds the
# dataplane with -march=native (for this machine's benchmarks), which could stop on an
# illegal instruction on another CPU; DPDK's own flags keep its portable -march=corei7.
# The binaries are those images/build-deb.sh packages ("$B/poprelay…"), so a program added
# to the package is built here without a second list to keep.
bin=$out/bin
progs=$(grep -o '"\$B/poprelay[a-z-]*"' images/build-deb.sh | tr -d '"' | sed 's#^\$B/##' | sort -u)
[ -n "$progs" ] || { echo "build-image: no binary found in images/build-deb.sh" >&2; exit 1; }
# shellcheck disable=SC2046 # one word per program
make -s B="$bin" DPDK_CFLAGS="$(pkg-config --cflags libdpdk)" $(printf "$bin/%s " $progs) >&2 ||
	{ echo "build-image: building the binaries failed" >&2; exit 1; }

# shellcheck disable=SC2046
inputs=$( (sha256sum $(printf "$bin/%s " $progs) "$0"; find images -type f -print0 | sort -z | xargs -0 sha256sum; echo "$VER") | sha256sum | cut -c1-64)
if [ -s "$out/poprelay.raw" ] && [ -s "$out/poprelay.qcow2" ] && [ "$(cat "$out/poprelay.inputs" 2>/dev/null)" = "$inputs" ]; then
	echo "build-image: $out/poprelay.raw is up to date" >&2
	echo "$out/poprelay.raw"
	exit 0
fi
t0=$(date +%s)

deb=$(images/build-deb.sh "$bin" "$VER")
src=$out/src
rm -rf "$src" "$out/poprelay.inputs"
cp -a images/mkosi "$src"
rm -f "$src/image-postinst.sh"
# The package's Depends go into the cached package set, so mkosi.postinst installs the
# package itself with dpkg alone (no network in that phase).
pkgs=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/[[:space:]]//g' | grep . | sort -u)
key=$( (cat images/mkosi/mkosi.conf; echo "$pkgs") | sha256sum | cut -c1-64)
mk=$out/mkosi
mkc=$mk/debian~bookworm # where mkosi 14 puts its output and cache images
mkdir -p "$mkc" "$out/pkgcache"
if [ "$(cat "$out/poprelay.cache-key" 2>/dev/null)" != "$key" ]; then
	rm -rf "$mkc"/poprelay.cache-pre-*
	echo "$key" >"$out/poprelay.cache-key"
fi
# mkosi 14 regenerates its incremental cache unless both cache images exist; with no
# build script it never makes the "development" one, so an empty file stands in for it.
[ -e "$mkc/poprelay.cache-pre-dev" ] || : >"$mkc/poprelay.cache-pre-dev"

args=()
for p in $pkgs; do args+=(--package "$p"); done
(cd "$src" && mkosi --force --incremental --image-id poprelay --image-version "$VER" \
	--output-dir "$mk" --cache "$out/pkgcache" "${args[@]}" build) >"$out/mkosi.log" 2>&1 ||
	{ tail -40 "$out/mkosi.log" >&2; echo "build-image: mkosi failed (log: $out/mkosi.log)" >&2; exit 1; }

tree=$mkc/poprelay_$VER
# The package and the image's postinst, in a chroot of the tree.
install -D -m 0644 "$deb" "$tree/var/cache/poprelay-image/$(basename "$deb")"
for fs in proc sys dev; do mount --bind /$fs "$tree/$fs"; done
trap 'for fs in proc sys dev; do umount -l "$tree/$fs" 2>/dev/null; done' EXIT
chroot "$tree" /bin/sh -s <images/mkosi/image-postinst.sh >>"$out/mkosi.log" 2>&1 ||
	{ tail -20 "$out/mkosi.log" >&2; echo "build-image: image-postinst.sh failed" >&2; exit 1; }
# The package set as installed, poprelay included (mkosi's manifests are written before
# the package goes in): one "name version architecture" line each, sorted.
chroot "$tree" dpkg-query -W -f '${Package} ${Version} ${Architecture}\n' | sort >"$out/poprelay.packages"
# The initrd (dracut, generic: mkosi.skeleton/etc/dracut.conf.d) depends only on the
# cached package set: made once per cache key.
kver=$(ls "$tree/usr/lib/modules" | sort -V | tail -1)
if [ ! -s "$out/initrd-$key.img" ]; then
	rm -f "$out"/initrd-*.img
	chroot "$tree" dracut --quiet --force --kver "$kver" /tmp/initrd.img >>"$out/mkosi.log" 2>&1 ||
		{ tail -20 "$out/mkosi.log" >&2; echo "build-image: dracut failed" >&2; exit 1; }
	mv "$tree/tmp/initrd.img" "$out/initrd-$key.img"
fi
for fs in proc sys dev; do umount -l "$tree/$fs"; done
trap - EXIT
if [ -e "$tree.manifest" ]; then mv -f "$tree.manifest" "$out/poprelay.manifest"; fi

# The disk, from the tree, without mounting anything:
#  ESP (vfat, mtools): the unified kernel image (systemd's EFI stub + the image's kernel,
#      its dracut initrd, the command line, os-release) as the removable-media boot path
#      EFI/BOOT/BOOTX64.EFI, which UEFI firmware starts with no boot entry and no loader;
#  root (ext4, mkfs.ext4 -d): the tree, found by its file system UUID;
#  data (ext4, label poprelay-data, DATA_MB): what the appliance keeps, moved out of the
#      tree: /etc/poprelay (etc/), /var/lib/poprelay (lib/: Redis's data) and the seed's
#      state /var/lib/poprelay-image (image/), bound back onto those paths by the image's
#      /etc/fstab (images/mkosi/mkosi.extra/etc/fstab).
uuid=$(cat /proc/sys/kernel/random/uuid)
work=$out/work
rm -rf "$work"; mkdir -p "$work"
data_mb=${DATA_MB:-1024}
mkdir -p "$work/data"
mv "$tree/etc/poprelay" "$work/data/etc"
mv "$tree/var/lib/poprelay" "$work/data/lib"
install -d -m 0755 "$work/data/image" "$tree/etc/poprelay" "$tree/var/lib/poprelay" \
	"$tree/var/lib/poprelay-image" "$tree/var/lib/poprelay-data"
mkfs.ext4 -q -L poprelay-data -d "$work/data" "$work/data.img" "${data_mb}M" >/dev/null
echo "root=UUID=$uuid rw console=tty0 console=ttyS0,115200 systemd.firstboot=off" >"$work/cmdline"
objcopy \
	--add-section .osrel="$tree/usr/lib/os-release" --change-section-vma .osrel=0x20000 \
	--add-section .cmdline="$work/cmdline" --change-section-vma .cmdline=0x30000 \
	--add-section .linux="$tree/boot/vmlinuz-$kver" --change-section-vma .linux=0x2000000 \
	--add-section .initrd="$out/initrd-$key.img" --change-section-vma .initrd=0x3000000 \
	"$tree/usr/lib/systemd/boot/efi/linuxx64.efi.stub" "$work/poprelay.efi"
esp_mb=$(($(du -m "$work/poprelay.efi" | cut -f1) + 32))
mkfs.vfat -C -n ESP "$work/esp.img" $((esp_mb * 1024)) >/dev/null
mmd -i "$work/esp.img" ::EFI ::EFI/BOOT
mcopy -i "$work/esp.img" "$work/poprelay.efi" ::EFI/BOOT/BOOTX64.EFI
# the root: what the tree holds, a quarter more and 512 MB free
root_mb=$(($(du -sm "$tree" | cut -f1) * 5 / 4 + 512))
mkfs.ext4 -q -L poprelay-root -U "$uuid" -d "$tree" "$work/root.img" "${root_mb}M" >/dev/null
raw=$work/poprelay.raw
truncate -s $((1 + esp_mb + root_mb + data_mb + 1))M "$raw"
sfdisk -q "$raw" <<GPT
label: gpt
start=2048, size=$((esp_mb * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp
size=$((root_mb * 2048)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=poprelay-root
size=$((data_mb * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=poprelay-data
GPT
dd if="$work/esp.img" of="$raw" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$work/root.img" of="$raw" bs=1M seek=$((1 + esp_mb)) conv=notrunc,sparse status=none
dd if="$work/data.img" of="$raw" bs=1M seek=$((1 + esp_mb + root_mb)) conv=notrunc,sparse status=none
mv -f "$raw" "$out/poprelay.raw"
rm -rf "$work" "$tree"
qemu-img convert -O qcow2 "$out/poprelay.raw" "$out/poprelay.qcow2"
rm -rf "$src"
echo "$inputs" >"$out/poprelay.inputs"
echo "build-image: $(du -m --apparent-size "$out/poprelay.raw" | cut -f1) MB raw ($(du -m "$out/poprelay.qcow2" | cut -f1) MB qcow2) in $(($(date +%s) - t0)) s" >&2
echo "$out/poprelay.raw"
