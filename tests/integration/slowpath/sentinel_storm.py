#!/usr/bin/env python3
"""Devices register through a slowpath whose Redis is under Sentinel, across failovers.
usage: sentinel_storm.py TLS_PORT DIR PHASE [ARGS]
  PHASE reg FIRST LAST: users uFIRST..uLAST register once each, retrying 503s for 20 s;
        all must end with 200 (new registrations succeed after a failover)
  PHASE once FIRST LAST STATUS: users register once each, no retry; each must get STATUS
  PHASE storm FIRST LAST KILL_AFTER KILL_CMD [HOLD_CMD IN_FIRST IN_LAST PRIMARY_PORT]: users
        register once each, no retry, paced; KILL_CMD runs after KILL_AFTER registrations;
        prints the users acknowledged (200) into DIR/acked, the others (503 expected) are
        counted. With HOLD_CMD: it runs first (it cuts the replica off, so that the WAIT
        after each binding's write waits), then users uIN_FIRST..uIN_LAST register at once, and
        KILL_CMD runs once their bindings are on the primary (asked as admin, password in
        $ADMIN_PW), before their WAIT ends: the users whose binding was written and who
        were not answered yet were in flight at the kill; they go into DIR/inflight, and
        each must be answered (200 or 503, not an error or a closed flow)
Each device's Contact carries a per-test token, so that the shell can tell its binding."""
import os, socket, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from sipclient import *


def redis_ints(port, cmds):
    """Each command's integer reply, on one admin connection to 127.0.0.1:port."""
    s = socket.create_connection(('127.0.0.1', port), timeout=2)
    f = s.makefile('rb')
    out = []
    for c in [['AUTH', 'admin', os.environ['ADMIN_PW']]] + cmds:
        s.sendall(('*%d\r\n' % len(c) + ''.join('$%d\r\n%s\r\n' % (len(a), a) for a in c))
                  .encode())
        line = f.readline().decode().strip()
        if line.startswith(':'):
            out.append(int(line[1:]))
    s.close()
    return out

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
    hold = sys.argv[8] if len(sys.argv) > 8 else None
    inflight, answers, threads = [], {}, []

    def register_one(i):
        try:
            ua = device(i)
            r, _ = ua.register()
            answers[i] = r.status
            ua.c.close()
        except Exception as e:
            answers[i] = 'exc: %s' % e

    acked, refused, n = [], {}, 0
    for i in range(first, last + 1):
        if n == kill_after and hold:
            subprocess.run(hold, shell=True, check=True)
            inflight = list(range(int(sys.argv[9]), int(sys.argv[10]) + 1))
            threads = [threading.Thread(target=register_one, args=(k,)) for k in inflight]
            for t in threads:
                t.start()
            # each binding's write reaches the primary, then its WAIT waits for the stopped
            # replica (wait_timeout_ms, 500): the kill comes once all are written, or 250 ms
            # after the first was, well inside that wait
            port, t0, first_seen, keys = int(sys.argv[11]), time.time(), None, []
            while time.time() - t0 < 3:
                keys = redis_ints(port, [['EXISTS', 'pr:reg:u%d' % k] for k in inflight])
                if any(keys) and first_seen is None:
                    first_seen = time.time()
                if all(keys) or (first_seen and time.time() - first_seen > 0.25):
                    break
                time.sleep(0.02)
        if n == kill_after:
            answered = dict(answers)  # before the kill
            subprocess.run(kill, shell=True, check=True)
            print('killed the primary after %d registrations' % n)
        if n == kill_after and hold:
            inflight = [k for k, e in zip(inflight, keys) if e and k not in answered]
            expect(len(inflight) > 0, 'a REGISTER was in flight (written, not answered) at '
                   'the kill (%s, answered before it %s)' % (keys, answered))
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
    for t in threads:
        t.join()
    with open(D + '/inflight', 'w') as f:
        f.write('\n'.join('u%d' % k for k in inflight) + '\n')
    print('storm: %d acknowledged, refused %s; in flight at the kill: %s' %
          (len(acked), refused, answers))
    answers = {k: answers.get(k) for k in inflight}
    expect(all(a in (200, 503) for a in answers.values()),
           'the REGISTERs in flight at the kill were answered 200 or 503 (%s)' % answers)
    acked += ['u%d' % k for k in inflight if answers.get(k) == 200]
    with open(D + '/acked', 'w') as f:
        f.write('\n'.join(acked) + '\n')
    expect(len(acked) >= kill_after // 2, 'registrations were acknowledged before the kill')
    # new REGISTERs while no primary is named are answered 503 at once (and, with no
    # replica left to WAIT for, so are the ones after the promotion)
    expect(refused.get(503, 0) > 0, 'some REGISTERs got 503 while the primary was away')
    expect(set(refused) <= {503, 'exc'}, 'refusals were 503 only (%s)' % refused)
