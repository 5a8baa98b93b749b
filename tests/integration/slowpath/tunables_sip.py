#!/usr/bin/env python3
"""One SIP-over-TLS probe of the slowpath's behaviour, for tunables_sp.sh; prints a JSON line.
usage: tunables_sip.py TLS_PORT DIR SRC_IP CMD ARGS...
  burst N GAP_MS            N OPTIONS on one flow, GAP_MS apart: {"ok", "refused", "retry_after"}
  register USER PW EXPIRES [outbound]
                            {"status", "min_expires", "expires" (granted), "flow_timer"}
  badauth USER N            N REGISTERs with a wrong password: {"statuses"}
  options BYTES             one OPTIONS of BYTES in all (a body pads it): {"status"} or
                            {"closed": true} when the slowpath closed the flow instead"""
import json, os, re, socket, ssl, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from sipclient import *

TP, D, SRC, CMD = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ARGS = sys.argv[5:]
c = Conn('tls', '127.0.0.1', TP, cafile=D + '/ca.crt', src=SRC)

def options(body=''):
    cid = tok()
    c.send(request(c, 'OPTIONS', 'sip:poprelay', '<sip:probe@poprelay>;tag=' + tok(), '<sip:poprelay>',
                   cid, 1, body=body))
    return cid

def answer(cid):
    while True:
        r = c.recv()
        if r.get('call-id') == cid:
            return r

out = {}
if CMD == 'burst':
    n, gap = int(ARGS[0]), int(ARGS[1]) / 1000.0
    cids = []
    for i in range(n):
        cids.append(options())
        time.sleep(gap)
    out = {'ok': 0, 'refused': 0, 'retry_after': 0, 'other': []}
    for cid in cids:
        r = answer(cid)
        if r.status == 200:
            out['ok'] += 1
        elif r.status == 503:
            out['refused'] += 1
            out['retry_after'] += r.get('retry-after') is not None
        else:
            out['other'].append(r.status)
elif CMD == 'register':
    ua = UA(c, ARGS[0], ARGS[1])
    extra = ';+sip.instance="<urn:uuid:%s>";reg-id=1' % ('0' * 8 + '-0000-4000-8000-' + tok(12)) \
        if len(ARGS) > 3 and ARGS[3] == 'outbound' else ''
    r, _ = ua.register(expires=int(ARGS[2]), extra_contact=extra)
    m = re.search(r';expires=(\d+)', r.get('contact', '') or '')
    ft = r.get('flow-timer')
    me = r.get('min-expires')
    out = {'status': r.status, 'min_expires': int(me) if me else None,
           'expires': int(m.group(1)) if m else None, 'flow_timer': int(ft) if ft else None}
elif CMD == 'badauth':
    ua = UA(c, ARGS[0], 'not-the-password')
    out = {'statuses': [ua.register()[0].status for _ in range(int(ARGS[1]))]}
elif CMD == 'options':
    size, cid, ftag = int(ARGS[0]), tok(), tok()
    msg = lambda body: request(c, 'OPTIONS', 'sip:poprelay', '<sip:probe@poprelay>;tag=' + ftag,
                               '<sip:poprelay>', cid, 1, body=body).encode()
    body = 'v=0\r\n'
    body += 'a' * (size - len(msg(body)))
    body = body[:len(body) - (len(msg(body)) - size)]  # Content-Length grew a digit or two
    data = msg(body)
    try:
        c.send(data)
        out = {'bytes': len(data), 'status': answer(cid).status}
    except (EOFError, ConnectionError, ssl.SSLError, socket.timeout):
        out = {'bytes': len(data), 'closed': True}
print(json.dumps(out))
