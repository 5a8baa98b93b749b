#!/usr/bin/env python3
"""Devices register through a slowpath whose Redis is under Sentinel, across failovers.
usage: sentinel_storm.py TLS_PORT DIR PHASE [ARGS]
  PHASE reg FIRST LAST: users uFIRST..uLAST register once each, retrying 503s for 20 s;
        all must end with 200 (new registrations succeed after a failover)
  PHASE once FIRST LAST STATUS: users register once each, no retry; each must get STATUS
  PHASE storm FIRST LAST KILL_AFTER KILL_CMD: users register once each, no retry, paced; KILL_CMD
        runs after KILL_AFTER registrations; prints the users acknowledged (200) into
        DIR/acked, the others (503 expected) are counted
Each device's Contact carries a per-test token, so that the shell can tell its binding."""
import os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from sipclient import *

TP, D, PHASE = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def pw(i):
    return 'tq7-Vortex-u%d' % i

def device(i):
    return UA(Conn('tls', '127.0.0.1', TP, cafile=D + '/ca.crt', timeout=8.0), 'u%d' % i, pw(i))

if PHASE == 'reg':
    first, last = int(sys.argv[4]), int(sys.argv[5])
    for i in range(first, last + 1):
        ua, t0, tries = device(i), time.time(), 0
        while True:
            r, _ = ua.register()
            tries += 1
            if r.status != 503 or time.time() - t0 > 20:
                break
            time.sleep(0.3)
        expect(r.status == 200, 'u%d registered (%d after %d tries, %.1fs)' %
               (i, r.status, tries, time.time() - t0))
        ua.c.close()
elif PHASE == 'once':
    first, last, want = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    for i in range(first, last + 1):
        ua = device(i)
        r, _ = ua.register()
        expect(r.status == want, 'u%d: REGISTER answered %d (expected %d)' % (i, r.status, want))
        ua.c.close()
elif PHASE == 'storm':
    first, last, kill_after, kill = (int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]),
                                     sys.argv[7])
    acked, refused, n = [], {}, 0
    for i in range(first, last + 1):
        if n == kill_after:
            subprocess.run(kill, shell=True, check=True)
            print('killed the primary after %d registrations' % n)
        n += 1
        try:
            ua = device(i)
            r, _ = ua.register()
            ua.c.close()
        except Exception as e:  # a flow the slowpath closed: not acknowledged
            refused['exc'] = refused.get('exc', 0) + 1
            continue
        if r.status == 200:
            acked.append('u%d' % i)
        else:
            refused[r.status] = refused.get(r.status, 0) + 1
        time.sleep(0.01)
    with open(D + '/acked', 'w') as f:
        f.write('\n'.join(acked) + '\n')
    print('storm: %d acknowledged, refused %s' % (len(acked), refused))
    expect(len(acked) >= kill_after // 2, 'registrations were acknowledged before the kill')
    expect(refused.get(503, 0) > 0, 'some REGISTERs got 503 while the primary was away')
    expect(set(refused) <= {503, 'exc'}, 'refusals were 503 only (%s)' % refused)
