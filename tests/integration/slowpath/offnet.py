#!/usr/bin/env python3
"""Off-net calls: inbound from an external UDP party to a registered device, outbound from a
device to a configured off-net route (with UDP retransmission of our INVITE).
usage: offnet.py TLS_PORT PLAIN_PORT DIR EXT_ADDR EXT_PORT"""
import os, re, socket, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from sipclient import *

TP, PP, D, EXT, EXTP = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
CA = D + '/ca.crt'
a = UA(Conn('tls', '127.0.0.1', TP, cafile=CA, src='127.0.0.2'), 'alice', 'tq7-Vortex-alice')
expect(a.register()[0].status == 200, 'alice registered over TLS')
b = UA(Conn('tls', '127.0.0.1', TP, cafile=CA, src='127.0.0.3'), 'bob', 'mz4-Quasar-bob')
expect(b.register()[0].status == 200, 'bob registered over TLS')

# ---- inbound: an external party (UDP, clear RTP) calls bob
ext = UA(Conn('udp', '127.0.0.1', PP, src='127.0.0.21'), 'carrier', '', domain='carrier.example')
o = call(ext, b, proto='RTP/AVP', hangup=False)
expect(o['final_a'].status == 200, 'inbound off-net INVITE over UDP answered 200')
inv = o['invite_b'].body.decode()
expect('RTP/SAVP' in inv and inv.count('a=crypto:') == 1, 'bob (on-net) is offered RTP/SAVP with SDES')
ans = o['final_a'].body.decode()
expect('RTP/AVP' in ans and 'a=crypto' not in ans and 'c=IN IP4 127.0.0.1' in ans,
       'the external party gets clear RTP/AVP at the relay')
ses = session(D)
expect(ses.get('a_onnet') == '0' and ses.get('a_encrypted') == '0' and ses.get('a_profile') == 'RTP/AVP',
       'session: off-net leg recorded clear')
expect(ses.get('b_onnet') == '1' and ses.get('b_encrypted') == '1', 'session: on-net leg recorded SRTP')
bye(o, ext, b)
expect(o['bye_a'].status == 200, 'BYE from the external party -> 200')
time.sleep(0.2)
c = [x for x in cdrs(D) if x.get('direction') == 'offnet-in']
expect(len(c) == 1, 'CDR with direction offnet-in')
expect(c[0].get('caller_encrypted') == '0' and c[0].get('callee_encrypted') == '1', 'CDR per-leg encryption status')
expect(c[0].get('caller_sig_transport') == 'udp' and c[0].get('caller_outside_addr') == '127.0.0.21',
       'CDR caller transport udp from the external address')

# ---- UDP 2xx retransmission until the ACK (RFC 3261 13.3.1.4)
o = call(ext, b, proto='RTP/AVP', hangup=False, ack=False)
t0 = time.time()
again = ext.c.recv()
expect(again.status == 200 and again.get('call-id') == o['call_id'] and 0.3 < time.time() - t0 < 1.5,
       'our 200 is retransmitted over UDP while the ACK is missing (%.2fs)' % (time.time() - t0))
ext.c.send(request(ext.c, 'ACK', b.aor, o['frm'], o['to_a'], o['call_id'], 1))
time.sleep(0.1)
ext.c.s.settimeout(2.5)
try:
    while True:
        m = ext.c.recv()
        expect(not (m.status == 200 and m.get('cseq', '').endswith('INVITE')), 'no 2xx retransmission after the ACK')
except socket.timeout:
    expect(True, 'retransmissions stop after the ACK')
ext.c.s.settimeout(5)
bye(o, ext, b)

# ---- inbound SRTP from off-net is kept SRTP
o = call(ext, b, proto='RTP/SAVP', hangup=False)
expect(o['final_a'].status == 200 and 'a=crypto' in o['final_a'].body.decode(),
       'an off-net party offering SRTP gets SRTP')
expect(session(D).get('a_encrypted') == '1', 'session: off-net SRTP leg recorded encrypted')
bye(o, ext, b)

# ---- bob requires encryption: a clear inbound offer is refused, an SRTP one accepted
redis(D, 'HSET', 'pr:user:bob', 'encryption_required', '1', 'max_tx_kbps', '96')
o = call(ext, b, proto='RTP/AVP')
expect(o['final_a'].status == 488, 'clear off-net call to an encryption_required user -> %d (488)' % o['final_a'].status)
o = call(ext, b, proto='RTP/SAVP', hangup=False)
expect(o['final_a'].status == 200, 'SRTP off-net call to an encryption_required user -> 200')
expect(session(D).get('b_max_kbps') == '96', 'session carries the user\'s bandwidth limit (b_max_kbps=96)')
bye(o, ext, b)
redis(D, 'HSET', 'pr:user:bob', 'encryption_required', '0', 'max_tx_kbps', '0')

# ---- inbound to someone not registered
o = call(ext, UA(ext.c, 'nobody', ''), proto='RTP/AVP')
expect(o['final_a'].status == 404, 'inbound to an unknown user -> %d (404)' % o['final_a'].status)

# ---- outbound: alice calls +15550100, routed to the off-net gateway over UDP
gw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
gw.bind((EXT, EXTP))
gw.settimeout(5)
call_id, ftag = tok(16) + '@sp', tok(8)
frm, to = '<%s>;tag=%s' % (a.aor, ftag), '<sip:+15550100@poprelay>'
a.c.send(request(a.c, 'INVITE', 'sip:+15550100@poprelay', frm, to, call_id, 1, 'Contact: ' + a.contact(),
                 sdp('10.9.0.1', 40000, 'RTP/SAVP')))
d1, srv = gw.recvfrom(65536)
m1 = Msg(d1)
expect(m1.method == 'INVITE' and 'sip:+15550100@%s:%d' % (EXT, EXTP) in m1.first,
       'the gateway receives the INVITE (%s)' % m1.first)
body = m1.body.decode()
expect('RTP/AVP' in body and 'a=crypto' not in body, 'toward the off-net party: clear RTP/AVP offer')
t0 = time.time()
d2, _ = gw.recvfrom(65536)          # not answered: we must retransmit (Timer A)
m2 = Msg(d2)
expect(m2.method == 'INVITE' and m2.get('via') == m1.get('via') and 0.3 < time.time() - t0 < 1.5,
       'INVITE retransmitted over UDP after T1 (%.2fs)' % (time.time() - t0))
ans = sdp('192.0.2.50', 30000, 'RTP/AVP')
resp = ['SIP/2.0 200 OK'] + ['Via: ' + v for v in m2.all('via')] + [
    'From: ' + m2.get('from'), 'To: %s;tag=gw1' % m2.get('to'), 'Call-ID: ' + m2.get('call-id'),
    'CSeq: ' + m2.get('cseq'), 'Contact: <sip:+15550100@%s:%d>' % (EXT, EXTP), 'Content-Type: application/sdp',
    'Content-Length: %d' % len(ans)]
ok200 = ('\r\n'.join(resp) + '\r\n\r\n' + ans).encode()
gw.sendto(ok200, srv)
ack, _ = gw.recvfrom(65536)
expect(Msg(ack).method == 'ACK', 'the gateway gets the ACK')
gw.sendto(ok200, srv)               # our ACK "was lost": the gateway retransmits its 2xx
ack2, _ = gw.recvfrom(65536)
expect(Msg(ack2).method == 'ACK' and Msg(ack2).get('cseq') == Msg(ack).get('cseq'),
       'a retransmitted 2xx is ACKed again')
r = a.c.recv()
while r.status < 200:
    r = a.c.recv()
expect(r.status == 200 and 'RTP/SAVP' in r.body.decode() and 'a=crypto' in r.body.decode(),
       'alice (on-net) gets RTP/SAVP with her own key')
expect(session(D).get('b_encrypted') == '0' and session(D).get('b_peer_addr') == '192.0.2.50',
       'session: off-net leg clear, peer at the gateway\'s SDP address')
a.c.send(request(a.c, 'ACK', 'sip:+15550100@poprelay', frm, r.get('to'), call_id, 1))
a.c.send(request(a.c, 'BYE', 'sip:+15550100@poprelay', frm, r.get('to'), call_id, 2))
byem = Msg(gw.recvfrom(65536)[0])
expect(byem.method == 'BYE' and byem.first.startswith('BYE sip:+15550100@%s:%d' % (EXT, EXTP)),
       'BYE reaches the gateway at its Contact')
resp = ['SIP/2.0 200 OK'] + ['Via: ' + v for v in byem.all('via')] + [
    'From: ' + byem.get('from'), 'To: ' + byem.get('to'), 'Call-ID: ' + byem.get('call-id'),
    'CSeq: ' + byem.get('cseq'), 'Content-Length: 0']
gw.sendto(('\r\n'.join(resp) + '\r\n\r\n').encode(), srv)
expect(a.c.recv().status == 200, 'alice\'s BYE answered')
time.sleep(0.2)
c = [x for x in cdrs(D) if x.get('direction') == 'offnet-out']
expect(len(c) == 1 and c[0].get('caller_user') == 'alice' and c[0].get('callee_encrypted') == '0',
       'CDR offnet-out: alice, callee leg clear')
expect(redis(D, 'SCARD', 'pr:sessions').strip() == '0', 'no session left')
print('all off-net scenarios passed')
