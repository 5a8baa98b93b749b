#!/usr/bin/env python3
"""Wrong-password REGISTERs from one source address until STOP_FILE appears (or MAX_S
seconds): each attempt is a full digest exchange (401 challenge, then a wrong response) for
the next of a few users, so the source (not one user) is what the guard locks out.
Prints JSON: {"attempts", "failed" (401 to the answer), "locked" (403 "locked out"),
"other": [statuses], "first_locked" (attempt index)}.
usage: guess.py TLS_PORT DIR SRC STOP_FILE MAX_S"""
import json, os, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from sipclient import *

TP, D, SRC, STOP, MAX_S = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
out = {'attempts': 0, 'failed': 0, 'locked': 0, 'other': [], 'first_locked': None}
t_end = time.time() + MAX_S
c = Conn('tls', '127.0.0.1', TP, cafile=D + '/ca.crt', src=SRC)
while time.time() < t_end and not os.path.exists(STOP):
    ua = UA(c, 'user%d' % (990 + out['attempts'] % 10), 'not-the-password-%d' % out['attempts'])
    r, auth = ua.register()
    if r.status == 401 and auth:
        out['failed'] += 1
    elif r.status == 403 and 'locked out' in (r.get('warning') or ''):
        out['locked'] += 1
        if out['first_locked'] is None:
            out['first_locked'] = out['attempts']
    else:
        out['other'].append(r.status)
    out['attempts'] += 1
    time.sleep(0.1)
print(json.dumps(out))
