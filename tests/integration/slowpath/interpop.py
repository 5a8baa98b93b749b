#!/usr/bin/env python3
"""Inter-PoP: alice registered at pop1 calls bob registered at pop2 (shared Redis); pop1
reaches pop2's slowpath over mutual TLS. usage: interpop.py TP1 TP2 DIR1"""
import os, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from sipclient import *

TP1, TP2, D = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
CA = D + '/ca.crt'
a = UA(Conn('tls', '127.0.0.1', TP1, cafile=CA, src='127.0.0.2'), 'alice', 'tq7-Vortex-alice')
expect(a.register()[0].status == 200, 'alice registered at pop1')
b = UA(Conn('tls', '127.0.0.30', TP2, cafile=CA, src='127.0.0.3'), 'bob', 'mz4-Quasar-bob')
expect(b.register()[0].status == 200, 'bob registered at pop2')
expect(redis(D, 'HGET', 'pr:reg:bob', 'pop').strip() == 'pop2', 'bob\'s binding records pop2')

o = call(a, b, hangup=False)
expect(o['final_a'].status == 200, 'alice -> bob across PoPs answered 200')
inv = o['invite_b'].body.decode()
expect('RTP/SAVP' in inv and 'c=IN IP4 127.0.0.30' in inv, 'bob sees pop2\'s relay address with SRTP')
ans = o['final_a'].body.decode()
expect('RTP/SAVP' in ans and 'c=IN IP4 127.0.0.1' in ans, 'alice sees pop1\'s relay address with SRTP')
expect(redis(D, 'SCARD', 'pr:sessions').strip() == '2', 'each PoP anchored its own media session')
bye(o, a, b)
expect(o['bye_a'].status == 200, 'BYE across PoPs -> 200')
time.sleep(0.3)
expect(redis(D, 'SCARD', 'pr:sessions').strip() == '0', 'both sessions ended')
paths = sorted(c.get('sig_path') for c in cdrs(D))
expect(paths == ['tls:pop1 -> tls:pop2', 'tls:pop1 -> tls:pop2'] or
       'tls:pop1 -> tls:pop2' in paths, 'CDR signalling path pop1 -> pop2: %s' % paths)

# and back: bob (pop2) calls alice (pop1) over the same peer link
o = call(b, a)
expect(o['final_a'].status == 200 and o['bye_a'].status == 200, 'bob -> alice across PoPs: 200, BYE 200')
time.sleep(0.3)
expect(redis(D, 'SCARD', 'pr:sessions').strip() == '0', 'sessions ended')
expect(sum(1 for c in cdrs(D) if c.get('sig_path') == 'tls:pop2 -> tls:pop1') >= 1,
       'CDR signalling path pop2 -> pop1')

# a client from pop1's address without a certificate is not a peer: it must authenticate
x = Conn('tls', '127.0.0.30', TP2, cafile=CA, src='127.0.0.1')
x.send(request(x, 'INVITE', 'sip:bob@poprelay', '<sip:alice@poprelay>;tag=x1', '<sip:bob@poprelay>', tok(), 1,
               'Contact: <sip:alice@127.0.0.1>', sdp('10.0.0.1', 4000)))
r = x.recv()
while r.status < 200:
    r = x.recv()
expect(r.status == 407, 'a certificate-less client from the peer\'s address is challenged (%d)' % r.status)
print('all inter-PoP scenarios passed')
