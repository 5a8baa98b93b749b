#!/usr/bin/env python3
"""Redis away and Redis slow, seen by devices: REGISTER and INVITE get 503 with Retry-After
while the slowpath cannot use Redis, and work again once it is back, on the same flows.
The shell script passes how to stop, restart and pause Redis as shell commands.
usage: redis_away.py TLS_PORT DIR STOP_CMD START_CMD PAUSE_CMD PAUSE_S"""
import os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from sipclient import *

TP, D, STOP, START, PAUSE, PAUSE_S = (int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4],
                                      sys.argv[5], float(sys.argv[6]))
PW = {'alice': 'tq7-Vortex-alice', 'bob': 'mz4-Quasar-bob', 'carol': 'pk2-Nebula-carol'}

def tls(timeout=5.0):
    return Conn('tls', '127.0.0.1', TP, cafile=D + '/ca.crt', timeout=timeout)

def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)

def unavailable(r, what, t0, limit_s):
    dt = time.time() - t0
    expect(r.status == 503 and r.get('retry-after') == '5' and dt < limit_s,
           '%s -> %d Retry-After %s in %.1fs' % (what, r.status, r.get('retry-after'), dt))

def invite(ua_a, ua_b):
    """INVITE from A's registered flow to B: the final answer A gets (ACKed)."""
    ca = ua_a.c
    frm, to = '<%s>;tag=%s' % (ua_a.aor, tok(8)), '<%s>' % ua_b.aor
    cid = tok(16) + '@sp-redis'
    br = 'z9hG4bK' + tok()
    ca.send(request(ca, 'INVITE', ua_b.aor, frm, to, cid, 1, 'Contact: ' + ua_a.contact(),
                    sdp('10.9.0.1', 40000), branch=br))
    r = ca.recv()
    while r.status < 200:
        r = ca.recv()
    ca.send(request(ca, 'ACK', ua_b.aor, frm, r.get('to'), cid, 1, branch=br))
    return r

alice, bob = UA(tls(), 'alice', PW['alice']), UA(tls(), 'bob', PW['bob'])
for ua in (alice, bob):
    r, _ = ua.register()
    expect(r.status == 200, '%s registered with Redis up' % ua.user)

# -- away: Redis killed
sh(STOP)
t0 = time.time()
r, auth = UA(tls(), 'carol', PW['carol']).register()
unavailable(r, 'Redis away: a new device\'s REGISTER (after its 401)', t0, 3)
expect(auth is not None, 'the 401 challenge itself needs no Redis')
t0 = time.time()
r, _ = alice.register()
unavailable(r, 'Redis away: alice re-registers on her flow', t0, 3)
t0 = time.time()
unavailable(invite(alice, bob), 'Redis away: alice calls bob', t0, 3)

# -- back: restarted on the same socket; the slowpath reconnects by itself
sh(START)
r, _ = UA(tls(), 'carol', PW['carol']).register()
expect(r.status == 200, 'Redis back: a new device registers (%d)' % r.status)
r, _ = alice.register()
expect(r.status == 200, 'Redis back: alice re-registers on the same flow (%d)' % r.status)

# -- slow: Redis paused; the command times out instead of the slowpath waiting for ever
sh(PAUSE)
time.sleep(0.3)
t0 = time.time()
dave = UA(tls(timeout=PAUSE_S + 10), 'carol', PW['carol'])
r, _ = dave.register()
# within two timeouts (2 s each: a once-a-second job's synchronous command that started
# before the REGISTER, then the REGISTER's own) and the TLS setup: the synchronous connection
# waits out one timeout and then holds back (pr_redis_set_slow_cooldown); before it did,
# every job's command and retry held the event loop in turn, and the REGISTER was answered
# after 8-9 s, or 200 once Redis woke after 12 s
unavailable(r, 'Redis paused for %ds: a REGISTER' % PAUSE_S, t0, 6.5)
time.sleep(max(0.0, PAUSE_S + 1 - (time.time() - t0)))
r, _ = dave.register()
expect(r.status == 200, 'Redis awake: the same device registers (%d)' % r.status)
# -- slow, and the device gone meanwhile: a REGISTER waiting for Redis whose flow closes gets
# no answer, but its wrong password still counts (the shell script checks reg_auth_failed):
# a guesser cannot hang up to keep its failures from the lockout
sh("redis-cli -s '%s/redis.sock' DEBUG SLEEP 1 >/dev/null &" % D)
time.sleep(0.3)
eve = tls()
ruri, aor = 'sip:poprelay', 'sip:bob@poprelay'
frm, to, cid = '<%s>;tag=%s' % (aor, tok(8)), '<%s>' % aor, tok(16) + '@sp-test'
ext = 'Contact: <sip:bob@%s:%d;transport=tls>\r\nExpires: 600' % eve.local
eve.send(request(eve, 'REGISTER', ruri, frm, to, cid, 1, ext))
r = eve.recv()
expect(r.status == 401, 'Redis paused: a REGISTER without credentials is still challenged')
auth, _ = authorization(r.all('www-authenticate'), 'bob', 'not-bobs-password', 'REGISTER', ruri)
eve.send(request(eve, 'REGISTER', ruri, frm, to, cid, 2, ext + '\r\n' + auth))
eve.close()
time.sleep(1.5)
print('all Redis-away scenarios passed')
