#!/usr/bin/env bash
# parallel: exclusive
# The Debian package: built from the tree, its metadata is right, and it installs and
# purges cleanly on this machine (postinst creates the system user, the Redis ACL users
# with random passwords and their 0640 password files; no secret is world-readable).
source "$(dirname "$0")/../lib.sh"
pr_need_root
if dpkg-query -W poprelay >/dev/null 2>&1; then pr_skip "a poprelay package is installed on this machine"; fi
cd "$PR_ROOT"
deb=$(images/build-deb.sh "$BUILD" 0.0.0-test) || pr_fail "package build failed"
pr_on_exit "rm -f '$deb'"
info=$(dpkg-deb -I "$deb")
for d in redis-server dpdk libhiredis0.14 librte-eal23; do
	grep -q "Depends:.*\b$d\b" <<<"$info" || pr_fail "Depends lacks $d"
done
dpkg-deb -I "$deb" conffiles | grep -qx /etc/poprelay/poprelay.conf || pr_fail "config is not a conffile"
# lintian: no error (its warnings: 0640 on the configuration files, which hold or name
# secrets; no manual pages yet)
if command -v lintian >/dev/null; then
	lint=$(lintian --tag-display-limit 0 "$deb" 2>&1 || true)
	! grep -q '^E:' <<<"$lint" || pr_fail "lintian errors: $(grep '^E:' <<<"$lint")"
	pr_log "lintian: no error ($(grep -c '^W:' <<<"$lint") warnings)"
else
	pr_fail "lintian not installed (make deps installs it)"
fi
contents=$(dpkg-deb -c "$deb")
for f in usr/sbin/poprelay-dataplane usr/bin/poprelayctl lib/systemd/system/poprelay-redis.service \
	lib/systemd/system/poprelay-dataplane.service lib/systemd/system/poprelay-slowpath.service usr/sbin/poprelay-slowpath \
	usr/sbin/poprelay-exporter lib/systemd/system/poprelay-exporter.service \
	usr/sbin/poprelay-turnfront lib/systemd/system/poprelay-turnfront.service; do
	grep -q " \./$f\$" <<<"$contents" || pr_fail "package lacks $f"
done

pr_log "install"
pr_on_exit "dpkg --purge poprelay; userdel poprelay; groupdel poprelay; rm -rf /etc/poprelay /var/lib/poprelay"
dpkg -i "$deb" >/dev/null || pr_fail "dpkg -i failed"
id poprelay >/dev/null || pr_fail "no poprelay system user"
/usr/bin/poprelayctl help >/dev/null 2>&1 || pr_fail "installed poprelayctl does not run"
/usr/sbin/poprelay-dataplane --version | grep -q 0 || pr_fail "installed dataplane does not run"
/usr/sbin/poprelay-exporter --help | grep -q /metrics || pr_fail "installed exporter does not run"
/usr/sbin/poprelay-turnfront --help 2>&1 | grep -q turn_front || pr_fail "installed turnfront does not run"
for u in dataplane slowpath ctl exporter; do
	pf=/etc/poprelay/redis-$u.pass
	[ "$(stat -c %a "$pf")" = 640 ] || pr_fail "$pf is not 0640"
	[ "$(wc -c <"$pf")" -ge 32 ] || pr_fail "$pf holds no random password"
	grep -q "^user $u on " /etc/poprelay/redis-users.acl || pr_fail "no ACL user $u"
done
[ "$(stat -c %a /etc/poprelay/redis-users.acl)" = 640 ] || pr_fail "ACL file readable by others"
[ "$(stat -c %a /etc/poprelay/tls/slowpath.key)" = 640 ] || pr_fail "no 0640 slowpath TLS key"
openssl x509 -in /etc/poprelay/tls/slowpath.crt -noout -checkend 86400 >/dev/null ||
	pr_fail "no valid slowpath certificate"
nk=/var/lib/poprelay/turn-nonce.key
[ "$(stat -c '%a %U %s' $nk)" = "600 root 32" ] || pr_fail "$nk is not root's 32 bytes, 0600"
pw1=$(cat /etc/poprelay/redis-ctl.pass) nk1=$(sha256sum <$nk)
dpkg -i "$deb" >/dev/null || pr_fail "reinstall failed"
[ "$(cat /etc/poprelay/redis-ctl.pass)" = "$pw1" ] || pr_fail "reinstall changed a password"
[ "$(sha256sum <$nk)" = "$nk1" ] || pr_fail "reinstall changed the TURN nonce key"

pr_log "the ACL file works with the packaged redis.conf"
d=$(pr_tmpdir)
sed -e "s#/run/poprelay/redis.sock#$d/r.sock#" -e "s#/var/lib/poprelay/redis#$d#" \
	/etc/poprelay/redis.conf >"$d/redis.conf"
redis-server "$d/redis.conf" --daemonize yes --pidfile "$d/r.pid" >/dev/null
pr_on_exit "kill \$(cat '$d/r.pid')"
pr_wait_for 10 sh -c "redis-cli -s '$d/r.sock' ping 2>&1 | grep -q NOAUTH" ||
	pr_fail "packaged redis.conf does not start, or its default user is not off: $(redis-cli -s "$d/r.sock" ping 2>&1)"
redis-cli -s "$d/r.sock" --user ctl --pass "$pw1" --no-auth-warning set pr:x 1 | grep -q OK ||
	pr_fail "ctl user cannot write pr:*"
redis-cli -s "$d/r.sock" --user ctl --pass "$pw1" --no-auth-warning set other 1 | grep -q NOPERM ||
	pr_fail "ctl user can write outside pr:*"

pr_log "the installed turnfront: off until [turn_front] has a listener; the packaged section, uncommented, is taken"
rc=0
/usr/sbin/poprelay-turnfront --check-config >"$d/tf.out" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "tcp_listen, tls_listen: no listener configured" "$d/tf.out" ||
	pr_fail "installed turnfront on the packaged config: exit $rc, $(cat "$d/tf.out")"
sed -e '/^#\[turn_front\]/,/^$/ s/^#\([a-z_]* = \|\[turn_front\]\)/\1/' \
	-e 's|^tls_cert = .*|tls_cert = /etc/poprelay/tls/slowpath.crt|' \
	-e 's|^tls_key = .*|tls_key = /etc/poprelay/tls/slowpath.key|' /etc/poprelay/poprelay.conf >"$d/tf.conf"
grep -q '^\[turn_front\]' "$d/tf.conf" || pr_fail "no commented [turn_front] section in the packaged config"
/usr/sbin/poprelay-turnfront -c "$d/tf.conf" --check-config >"$d/tf.out" 2>&1 &&
	grep -q "configuration OK: 3 listeners" "$d/tf.out" ||
	pr_fail "the packaged [turn_front], uncommented: $(cat "$d/tf.out")"

pr_log "the installed poprelay-dtls takes the packaged [dtls], uncommented"
sed -e '/^#\[dtls\]/,/^$/ s/^#\([a-z_]* = \|\[dtls\]\)/\1/' /etc/poprelay/poprelay.conf >"$d/dtls.conf"
grep -q '^\[dtls\]' "$d/dtls.conf" && grep -q '^cert_dir = ' "$d/dtls.conf" ||
	pr_fail "no commented [dtls] section in the packaged config"
/usr/sbin/poprelay-dtls -c "$d/dtls.conf" --check-config >"$d/dtls.out" 2>&1 &&
	grep -q "configuration OK" "$d/dtls.out" ||
	pr_fail "the packaged [dtls], uncommented: $(cat "$d/dtls.out")"

pr_log "the installed processes start on the packaged config, each as its own Redis user"
[ ! -e /run/poprelay/redis.sock ] || pr_skip "/run/poprelay/redis.sock exists: a poprelay Redis runs here"
install -d -o poprelay -g poprelay -m 0750 /run/poprelay # what RuntimeDirectory= does
pr_on_exit "rm -rf /run/poprelay"
install -d -o poprelay -g poprelay /var/lib/poprelay/redis
runuser -u poprelay -- redis-server /etc/poprelay/redis.conf --daemonize yes \
	--pidfile /run/poprelay/r.pid --logfile /run/poprelay/r.log >/dev/null 2>&1 || true
pr_on_exit "kill \$(cat /run/poprelay/r.pid)"
pr_wait_for 10 test -S /run/poprelay/redis.sock ||
	pr_fail "packaged redis did not start as poprelay: $(cat /run/poprelay/r.log 2>&1 | tail -3)"
pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')-Pkg9
printf '%s\n' "$pw" >"$d/pw"
/usr/bin/poprelayctl user add pkguser --password-file "$d/pw" >/dev/null ||
	pr_fail "installed poprelayctl cannot add a user through the ctl ACL user"
/usr/bin/poprelayctl user list | grep -q pkguser || pr_fail "installed poprelayctl cannot list users"
pr_netns pkg-ns
ip netns exec pkg-ns /usr/sbin/poprelay-slowpath -c /etc/poprelay/poprelay.conf >"$d/sp.log" 2>&1 &
sp=$!
pr_on_exit "kill $sp"
pr_wait_for 10 grep -q "listening:" "$d/sp.log" || { cat "$d/sp.log"; pr_fail "installed slowpath did not start on the packaged config"; }
echo | ip netns exec pkg-ns timeout 5 openssl s_client -connect 127.0.0.1:5061 2>/dev/null |
	grep -q "BEGIN CERTIFICATE\|Server certificate" || pr_fail "installed slowpath does not serve TLS with the packaged certificate"
kill $sp; wait $sp 2>/dev/null
grep -Eiq "password|$pw" "$d/sp.log" && pr_fail "slowpath log mentions a password"
# The installed exporter reads the packaged Redis as its read-only "exporter" user.
ip netns exec pkg-ns /usr/sbin/poprelay-exporter -l 127.0.0.1:9469 2>"$d/exp.log" &
ex=$!
pr_on_exit "kill $ex"
pr_wait_for 5 ip netns exec pkg-ns curl -sf -o "$d/m" http://127.0.0.1:9469/metrics ||
	{ cat "$d/exp.log"; pr_fail "installed exporter does not answer"; }
grep -q '^poprelay_up{process="redis"} 1' "$d/m" && grep -q '^poprelay_users 1$' "$d/m" ||
	pr_fail "installed exporter cannot read the packaged Redis: $(grep -v '^#' "$d/m")"
grep -q "$(cat /etc/poprelay/redis-exporter.pass)" "$d/m" && pr_fail "the scrape shows a password"
kill $ex; wait $ex 2>/dev/null
kill "$(cat /run/poprelay/r.pid)"

dpkg --purge poprelay >/dev/null || pr_fail "purge failed"
[ ! -e /usr/sbin/poprelay-dataplane ] || pr_fail "purge left the binary"
[ ! -e /etc/poprelay ] || pr_fail "purge left /etc/poprelay: $(ls /etc/poprelay)"
pr_log "package: pass"
