#!/usr/bin/env bash
# images/build-deb.sh BUILD_DIR VERSION -> BUILD_DIR/poprelay_VERSION_amd64.deb
# The appliance as one Debian package: binaries, default configuration (a conffile),
# systemd units and the Redis setup. Runtime dependencies are found from the binaries'
# shared libraries (dpkg -S), so the list stays true as the code changes.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}; VER=${2:-0.1.0}
root=$(mktemp -d); trap 'rm -rf "$root"' EXIT
install -D -m 0755 "$B/poprelay-dataplane" "$root/usr/sbin/poprelay-dataplane"
[ -x "$B/poprelay-slowpath" ] && install -D -m 0755 "$B/poprelay-slowpath" "$root/usr/sbin/poprelay-slowpath"
install -D -m 0755 "$B/poprelay-turnfront" "$root/usr/sbin/poprelay-turnfront"
install -D -m 0755 "$B/poprelay-dtls" "$root/usr/sbin/poprelay-dtls"
install -D -m 0755 "$B/poprelayctl" "$root/usr/bin/poprelayctl"
install -D -m 0755 "$B/poprelay-exporter" "$root/usr/sbin/poprelay-exporter"
install -D -m 0755 images/poprelay-setup-redis "$root/usr/sbin/poprelay-setup-redis"
install -D -m 0640 images/poprelay.conf "$root/etc/poprelay/poprelay.conf"
install -D -m 0640 images/redis-poprelay.conf "$root/etc/poprelay/redis.conf"
install -D -m 0640 images/redis-users.acl "$root/etc/poprelay/redis-users.acl"
# keepalived for appliances N+1 (docs/scaling.md): the notify hook, and the sample
# configuration as an example (it names interfaces and addresses to adapt; not a conffile)
install -D -m 0755 images/poprelay-ha-notify "$root/usr/lib/poprelay/poprelay-ha-notify"
install -D -m 0644 images/keepalived-poprelay.conf "$root/usr/share/doc/poprelay/examples/keepalived-poprelay.conf"
install -D -m 0644 images/keepalived-poprelay-sip.conf "$root/usr/share/doc/poprelay/examples/keepalived-poprelay-sip.conf"
for u in images/*.service; do install -D -m 0644 "$u" "$root/lib/systemd/system/$(basename "$u")"; done
for d in README.md docs/*.md; do install -D -m 0644 "$d" "$root/usr/share/doc/poprelay/$(basename "$d")"; done
# no debugging symbols in the package (lintian: unstripped-binary-or-object)
for b in "$root"/usr/sbin/* "$root"/usr/bin/*; do
	file -b "$b" | grep -q ELF && strip --strip-unneeded --remove-section=.comment \
		--remove-section=.note "$b"
done
# copyright (machine-readable, the tree's SPDX license) and a changelog, dated by the commit
# so that the same tree gives the same files
install -D -m 0644 images/copyright "$root/usr/share/doc/poprelay/copyright"
when=$(git log -1 --format=%cD 2>/dev/null || date -R)
rev=$(git describe --always --dirty 2>/dev/null || echo unknown)
case $VER in *-*) cl=changelog.Debian.gz ;; *) cl=changelog.gz ;; esac
printf 'poprelay (%s) unstable; urgency=medium\n\n  * Built from the poprelay tree at %s.\n\n -- poprelay developers <dev@poprelay.invalid>  %s\n' \
	"$VER" "$rev" "$when" | gzip -9n >"$root/usr/share/doc/poprelay/$cl"
chmod 0644 "$root/usr/share/doc/poprelay/$cl"

libs=$(for b in "$root"/usr/sbin/* "$root"/usr/bin/*; do file -b "$b" | grep -q ELF && ldd "$b"; done |
	awk '/=> \//{print $3}' | sort -u)
deps=$(for l in $libs; do dpkg -S "$(readlink -f "$l")" 2>/dev/null || dpkg -S "$l" 2>/dev/null; done |
	cut -d: -f1 | sort -u | grep -v '^libc6$' || true)
deps=$(echo $deps redis-server dpdk openssl adduser | tr ' ' '\n' | sort -u | paste -sd, | sed 's/,/, /g')

mkdir -p "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<CTL
Package: poprelay
Version: $VER
Architecture: amd64
Maintainer: poprelay developers <dev@poprelay.invalid>
Depends: libc6, $deps
Suggests: keepalived
Section: net
Priority: optional
Description: kernel-bypass media relay appliance (TURN, SRTP, SIP/TLS)
 A DPDK dataplane relaying TURN and SRTP media at line rate, a SIP over
 TLS registrar and call router, and the poprelayctl management CLI,
 sharing their state through a local Redis.
CTL
printf '/etc/poprelay/poprelay.conf\n/etc/poprelay/redis.conf\n/etc/poprelay/redis-users.acl\n' >"$root/DEBIAN/conffiles"
cat >"$root/DEBIAN/postinst" <<'POST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
	getent group poprelay >/dev/null || addgroup --system poprelay
	install -d -m 0750 /var/lib/poprelay
	getent passwd poprelay >/dev/null || adduser --system --ingroup poprelay --home /var/lib/poprelay --no-create-home poprelay
	install -d -o poprelay -g poprelay -m 0750 /var/lib/poprelay /var/lib/poprelay/redis
	# TURN's nonce key ([turn] nonce_secret_file): the dataplane reads it but, without
	# CAP_DAC_OVERRIDE, cannot create it in the poprelay user's directory
	if [ ! -e /var/lib/poprelay/turn-nonce.key ]; then
		(umask 077; head -c 32 /dev/urandom >/var/lib/poprelay/turn-nonce.key)
	fi
	chgrp poprelay /etc/poprelay/poprelay.conf /etc/poprelay/redis.conf || true
	poprelay-setup-redis
	# A self-signed certificate so the slowpath starts; replace it with the carrier's.
	if [ ! -e /etc/poprelay/tls/slowpath.key ]; then
		install -d -m 0750 -g poprelay /etc/poprelay/tls
		openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=$(hostname -f 2>/dev/null || hostname)" \
			-keyout /etc/poprelay/tls/slowpath.key -out /etc/poprelay/tls/slowpath.crt 2>/dev/null
		chgrp poprelay /etc/poprelay/tls/slowpath.key /etc/poprelay/tls/slowpath.crt
		chmod 0640 /etc/poprelay/tls/slowpath.key
	fi
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
		# An upgrade ($2: the version it replaces): the running services take the new
		# binaries one at a time, in dependency order (Redis, the dataplane, the slowpath,
		# the exporter); a unit that is not running stays stopped (try-restart).
		# poprelay-turnfront restarts with the dataplane (its Requires=).
		if [ -n "${2:-}" ]; then
			for u in poprelay-redis poprelay-dataplane poprelay-slowpath poprelay-exporter; do
				systemctl try-restart "$u.service" ||
					echo "poprelay: restarting $u.service failed (systemctl status $u.service)" >&2
			done
		fi
	fi
fi
POST
chmod 0755 "$root/DEBIAN/postinst"
cat >"$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ "$1" = purge ]; then
	rm -f /etc/poprelay/redis-*.pass /etc/poprelay/redis-users.acl
	rm -rf /etc/poprelay/tls
	rmdir /etc/poprelay 2>/dev/null || true
	rm -rf /var/lib/poprelay
fi
POSTRM
chmod 0755 "$root/DEBIAN/postrm"
out="$B/poprelay_${VER}_amd64.deb"
dpkg-deb --root-owner-group --build "$root" "$out" >/dev/null
echo "$out"
