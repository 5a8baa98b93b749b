#!/usr/bin/env python3
"""Dialog paths: CANCEL, an error response relayed, re-INVITE hold/resume (both directions),
callee flow loss, unanswered INVITE timeout. Every path must end the session, return the
relay ports and write a CDR. usage: dialogs.py TLS_PORT DIR SLOWPATH_PID"""
import os, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from sipclient import *

TP, D, PID = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
CA = D + '/ca.crt'
def ua(name, pw, src):
    u = UA(Conn('tls', '127.0.0.1', TP, cafile=CA, src=src), name, pw)
    expect(u.register()[0].status == 200, '%s registered' % name)
    return u
a = ua('alice', 'tq7-Vortex-alice', '127.0.0.2')
b = ua('bob', 'mz4-Quasar-bob', '127.0.0.3')
free0 = redis(D, 'SCARD', 'pr:ports:free').strip()

def respond(c, m, code, reason, totag=None, body='', contact=None):
    to = m.get('to') + (';tag=' + totag if totag and 'tag=' not in m.get('to') else '')
    h = ['SIP/2.0 %d %s' % (code, reason)] + ['Via: ' + v for v in m.all('via')] + [
        'From: ' + m.get('from'), 'To: ' + to, 'Call-ID: ' + m.get('call-id'), 'CSeq: ' + m.get('cseq')]
    if contact:
        h.append('Contact: ' + contact)
    if body:
        h.append('Content-Type: application/sdp')
    h.append('Content-Length: %d' % len(body))
    c.send('\r\n'.join(h) + '\r\n\r\n' + body)

def final(c):
    r = c.recv()
    while r.status and r.status < 200:
        r = c.recv()
    return r

def clean(what):
    time.sleep(0.3)
    expect(redis(D, 'SCARD', 'pr:sessions').strip() == '0' and
           redis(D, 'SCARD', 'pr:ports:free').strip() == free0, '%s: no session left, ports returned' % what)

def cdr_with(**kv):
    return any(all(c.get(k) == v for k, v in kv.items()) for c in cdrs(D))

def invite(branch=None):
    cid, ftag = tok(16) + '@sp', tok(8)
    frm, to = '<%s>;tag=%s' % (a.aor, ftag), '<%s>' % b.aor
    branch = branch or 'z9hG4bK' + tok()
    a.c.send(request(a.c, 'INVITE', b.aor, frm, to, cid, 1, 'Contact: ' + a.contact(),
                     sdp('10.9.0.1', 40000), branch=branch))
    return cid, frm, to, branch

# ---- CANCEL while ringing
cid, frm, to, br = invite()
expect(a.c.recv().status == 100, '100 Trying')
inv = b.c.recv()
respond(b.c, inv, 180, 'Ringing', 'bt1')
expect(a.c.recv().status == 180, '180 relayed to the caller')
a.c.send(request(a.c, 'CANCEL', b.aor, frm, to, cid, 1, branch=br))
got = sorted([a.c.recv().status, a.c.recv().status])
expect(got == [200, 487], 'caller gets 200 (CANCEL) and 487 (INVITE): %s' % got)
cancel = b.c.recv()
expect(cancel.method == 'CANCEL' and cancel.get('via') == inv.get('via'), 'CANCEL reaches the callee on the INVITE\'s branch')
respond(b.c, cancel, 200, 'OK')
respond(b.c, inv, 487, 'Request Terminated', 'bt1')
ack = b.c.recv()
expect(ack.method == 'ACK', 'callee\'s 487 is ACKed')
clean('CANCEL')
expect(cdr_with(end_reason='cancel', answer='0', sip_status='487'), 'CDR: cancel, never answered')

# ---- error response relayed
cid, frm, to, br = invite()
inv = b.c.recv()
respond(b.c, inv, 486, 'Busy Here', 'bt2')
expect(b.c.recv().method == 'ACK', 'callee\'s 486 is ACKed')
expect(final(a.c).status == 486, '486 relayed to the caller')
clean('486')
expect(cdr_with(sip_status='486', end_reason='rejected'), 'CDR: status 486')

# ---- established call, then re-INVITEs
o = call(a, b, hangup=False)
expect(o['final_a'].status == 200, 'call established')
relay_b = re.search(r'm=audio (\d+)', o['invite_b'].body.decode()).group(1)
key_b = re.search(r'inline:(\S+)', o['invite_b'].body.decode()).group(1)
stream0 = redis(D, 'XLEN', 'pr:sessions:stream').strip()
hold = sdp('10.9.0.1', 40100).replace('a=sendrecv', 'a=sendonly')
a.c.send(request(a.c, 'INVITE', b.aor, o['frm'], o['to_a'], o['call_id'], 2, 'Contact: ' + a.contact(), hold))
rei = b.c.recv()
while rei.method != 'INVITE':
    rei = b.c.recv()
body = rei.body.decode()
expect('a=sendonly' in body and 'm=audio %s ' % relay_b in body, 'hold re-INVITE reaches the callee, same relay port')
expect(re.search(r'inline:(\S+)', body).group(1) == key_b, 'same SDES key toward the callee (session unchanged)')
respond(b.c, rei, 200, 'OK', body=sdp('10.9.0.2', 42000).replace('a=sendrecv', 'a=recvonly'),
        contact=b.contact())
r = final(a.c)
expect(r.status == 200 and 'a=recvonly' in r.body.decode(), 'hold answer relayed to the caller')
expect(b.c.recv().method == 'ACK', 'callee gets the ACK for the re-INVITE')
a.c.send(request(a.c, 'ACK', b.aor, o['frm'], o['to_a'], o['call_id'], 2))
time.sleep(0.2)
ses = session(D)
expect(ses.get('a_peer_port') == '40100', 'session updated with the new caller port')
expect(int(redis(D, 'XLEN', 'pr:sessions:stream')) > int(stream0) and
       'update' in redis(D, 'XREVRANGE', 'pr:sessions:stream', '+', '-', 'COUNT', '1'), 'stream announced an update')
# callee-initiated resume (re-INVITE on the B dialog)
inv_b = o['invite_b']
resume = sdp('10.9.0.2', 42200)
from_b = inv_b.get('to') + ';tag=' + re.search(r'tag=([^;>\s]+)', o['ack_b'].get('to')).group(1) if 'tag=' not in inv_b.get('to') else inv_b.get('to')
b.c.send(request(b.c, 'INVITE', 'sip:poprelay@127.0.0.1:%d;transport=tls' % TP, o['ack_b'].get('to'),
                 o['ack_b'].get('from'), inv_b.get('call-id'), 10, 'Contact: ' + b.contact(), resume))
rei = a.c.recv()
while rei.method != 'INVITE':
    rei = a.c.recv()
expect('a=sendrecv' in rei.body.decode(), 'callee\'s resume re-INVITE reaches the caller')
respond(a.c, rei, 200, 'OK', body=sdp('10.9.0.1', 40100), contact=a.contact())
r = final(b.c)
expect(r.status == 200, 'resume answered')
expect(a.c.recv().method == 'ACK', 'the caller gets the ACK for the callee\'s re-INVITE')
time.sleep(0.2)
expect(session(D).get('b_peer_port') == '42200', 'session updated with the callee\'s new port')

# ---- a re-INVITE answered with clear RTP by an on-net callee: policy ends the call
o2 = call(a, b, hangup=False)
expect(o2['final_a'].status == 200, 'second call established (%s)' % o2['final_a'].first)
a.c.send(request(a.c, 'INVITE', b.aor, o2['frm'], o2['to_a'], o2['call_id'], 2, 'Contact: ' + a.contact(),
                 sdp('10.9.0.1', 40300)))
rei = b.c.recv()
while rei.method != 'INVITE':
    rei = b.c.recv()
respond(b.c, rei, 200, 'OK', body=sdp('10.9.0.2', 42300, 'RTP/AVP'), contact=b.contact())
got_b = [b.c.recv().method, b.c.recv().method]
expect(got_b == ['ACK', 'BYE'], 'callee answering clear RTP gets ACK then BYE (%s)' % got_b)
r = a.c.recv()
while r.status == 0 and r.method != 'BYE':
    r = a.c.recv()
seen = [r.status or r.method]
r2 = a.c.recv()
seen.append(r2.status or r2.method)
expect(488 in seen and 'BYE' in seen, 'caller gets 488 for its re-INVITE and a BYE (%s)' % seen)
for m in (r, r2):
    if m.method == 'BYE':
        respond(a.c, m, 200, 'OK')
time.sleep(0.3)
expect(cdr_with(end_reason='policy-488', sip_status='200'), 'CDR: policy-488 mid-call')

# ---- callee's flow lost: caller gets a BYE, everything cleaned
b.c.close()
byem = a.c.recv()
while byem.method != 'BYE':
    byem = a.c.recv()
expect(byem.method == 'BYE', 'caller receives BYE when the callee\'s flow is lost')
respond(a.c, byem, 200, 'OK')
clean('flow loss')
expect(cdr_with(end_reason='flow-lost', sip_status='200'), 'CDR: flow-lost of an answered call')

# ---- unanswered INVITE: 408 after invite_timeout_s, CANCEL to the callee
b = ua('bob', 'mz4-Quasar-bob', '127.0.0.4')

# ---- a disabled callee (account kept, calls refused)
redis(D, 'HSET', 'pr:user:bob', 'disabled', '1')
o = call(a, b)
expect(o['final_a'].status == 403, 'call to a disabled user -> %d (403)' % o['final_a'].status)
redis(D, 'HSET', 'pr:user:bob', 'disabled', '0')
clean('disabled')

cid, frm, to, br = invite()
inv = b.c.recv()
t0 = time.time()
r = final(a.c)
expect(r.status == 408 and 2 <= time.time() - t0 < 6, 'unanswered INVITE -> 408 after %.1fs' % (time.time() - t0))
cancel = b.c.recv()
expect(cancel.method == 'CANCEL', 'callee gets a CANCEL')
respond(b.c, cancel, 200, 'OK')
respond(b.c, inv, 487, 'Request Terminated', 'bt3')
expect(b.c.recv().method == 'ACK', 'callee\'s 487 is ACKed')
clean('timeout')
expect(cdr_with(end_reason='timeout', sip_status='408'), 'CDR: timeout')
# ---- shutdown with a call up: both parties get a BYE, the CDR is written
import signal
o = call(a, b, hangup=False)
expect(o['final_a'].status == 200, 'call established before shutdown')
os.kill(PID, signal.SIGTERM)
ba, bb = a.c.recv(), b.c.recv()
expect(ba.method == 'BYE' and bb.method == 'BYE', 'SIGTERM: both parties receive BYE')
time.sleep(0.5)
expect(cdr_with(end_reason='shutdown'), 'CDR: shutdown')
expect(redis(D, 'SCARD', 'pr:sessions').strip() == '0', 'no session left after shutdown')
print('all dialog scenarios passed')
