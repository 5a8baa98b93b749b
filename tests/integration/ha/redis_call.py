#!/usr/bin/env python3
"""Calls through a slowpath with [redis] wait_replicas = 1 (ha_redis_media.sh): the answer
reaches the caller only once the call's media sessions are on a replica.
usage: redis_call.py TLS_PORT DIR
  u0 and u1 register (retrying 503s for 20 s) and keep their flows; then
  1. u0 calls u1, u1 answers: u0 gets 200 with the anchor's SDP; the call id is written to
     DIR/call1; u0 hangs up;
  2. the script waits for DIR/go (the shell killed the primary, no replica is left), then
     u0 calls u1 until the INVITE reaches u1 (a 503 before it: the slowpath still finding
     the new primary) and u1 answers: u0 gets 503 with Retry-After (the sessions' WAIT fell
     short) and u1, which had its ACK, gets a BYE.
Each device's password is the one redis_sentinel.sh's users have."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'slowpath'))
from sipclient import *

TP, D = int(sys.argv[1]), sys.argv[2]


def device(i):
    ua = UA(Conn('tls', '127.0.0.1', TP, cafile=D + '/ca.crt', timeout=8.0), 'u%d' % i,
            'tq7-Vortex-u%d' % i)
    t0 = time.time()
    while True:
        r, _ = ua.register()
        if r.status != 503 or time.time() - t0 > 20:
            break
        time.sleep(0.3)
    expect(r.status == 200, 'u%d registered (%d)' % (i, r.status))
    return ua


a, b = device(0), device(1)

out = call(a, b, hangup=False)
fin = out['final_a']
expect(fin.status == 200, 'call 1: the caller got %d, expected 200 (a replica is up)' % fin.status)
expect(b'c=IN IP4 ' in fin.body and b'a=crypto:' in fin.body,
       "call 1: the 200 carries the anchor's SDP")
open(D + '/call1', 'w').write(out['call_id'] + '\n')
bye(out, a, b)
expect(out['bye_a'].status == 200, 'call 1: hung up')

t0 = time.time()
while not os.path.exists(D + '/go'):
    if time.time() - t0 > 60:
        expect(False, 'DIR/go within 60 s')
    time.sleep(0.1)

t0 = time.time()
while True:
    out = call(a, b, hangup=False)
    if 'invite_b' in out or time.time() - t0 > 20:
        break
    time.sleep(0.5)
expect('invite_b' in out, 'call 2 reached the callee (last answer to the caller: %s)' %
       out['final_a'].first)
fin = out['final_a']
expect(fin.status == 503, 'call 2: the caller got %d, expected 503 (no replica: WAIT 0 of 1)' %
       fin.status)
expect(fin.get('retry-after') == '5', 'call 2: the 503 says Retry-After: 5 (%s)' %
       fin.get('retry-after'))
expect(out['ack_b'].method == 'ACK', 'call 2: the callee had its ACK')
by = b.c.recv()
expect(by.method == 'BYE', 'call 2: the callee got a BYE (%s)' % by.first)
resp = ['SIP/2.0 200 OK'] + ['Via: ' + v for v in by.all('via')] + [
    'From: ' + by.get('from'), 'To: ' + by.get('to'), 'Call-ID: ' + by.get('call-id'),
    'CSeq: ' + by.get('cseq'), 'Content-Length: 0']
b.c.send('\r\n'.join(resp) + '\r\n\r\n')
print('PASS')
