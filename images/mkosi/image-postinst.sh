#!/bin/sh
# Runs in a chroot of the image tree mkosi made (images/build-image.sh; not as mkosi's
# mkosi.postinst, which needs systemd-nspawn and so a booted systemd on the build host),
# with no network: installs the poprelay package whose dependencies mkosi already
# installed, then removes every per-machine secret the
# package and Debian made at build time, so no two appliances share one. First boot makes
# them again (poprelay-seed.service, /usr/lib/poprelay-image/seed-apply).
set -eu
deb=$(ls /var/cache/poprelay-image/poprelay_*.deb)
dpkg -i "$deb"
rm -rf /var/cache/poprelay-image

# Secrets made by the package's postinst and by openssh-server's.
rm -f /etc/poprelay/redis-*.pass /etc/ssh/ssh_host_* /var/lib/poprelay/turn-nonce.key
rm -rf /etc/poprelay/tls
: >/etc/poprelay/redis-users.acl

# No password for anyone: root stays locked, ops log in with the seed's key.
passwd -l root >/dev/null

# Debian's own Redis instance (127.0.0.1:6379) is not the appliance's: poprelay-redis is.
systemctl disable redis-server.service >/dev/null 2>&1 || true
systemctl mask redis-server.service
systemctl enable systemd-networkd.service poprelay-seed.service poprelay-seed-users.service poprelay-nic-bind.service \
	poprelay-redis.service poprelay-dataplane.service poprelay-slowpath.service \
	poprelay-exporter.service ssh.service
# The management address comes from the seed (a systemd-networkd .network file); nothing
# waits for a network that may never be configured.
# sshd only through ssh.service, which waits for a seed's key: never socket-activated.
systemctl mask ssh.socket
systemctl disable systemd-networkd-wait-online.service >/dev/null 2>&1 || true
