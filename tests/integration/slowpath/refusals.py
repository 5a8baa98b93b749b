#!/usr/bin/env python3
"""Refusal scenarios against a running slowpath (see slowpath_refusals.sh).
usage: refusals.py TLS_PORT PLAIN_PORT DIR"""
import glob, os, socket, ssl, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from sipclient import *

TP, PP, D = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
CA = D + '/ca.crt'
def tls(src):
    return Conn('tls', '127.0.0.1', TP, cafile=CA, src=src)

def options(c, ua='sp-test/1'):
    """OPTIONS probe; returns its own response (earlier responses on c are skipped)."""
    cid = tok()
    c.send(request(c, 'OPTIONS', 'sip:poprelay', '<sip:probe@poprelay>;tag=' + tok(), '<sip:poprelay>',
                   cid, 1, ua=ua))
    while True:
        r = c.recv()
        if r.get('call-id') == cid:
            return r

# -- registration with both algorithms
a = UA(tls('127.0.0.2'), 'alice', 'tq7-Vortex-alice')
r, _ = a.register(alg='SHA-256')
expect(r.status == 200, 'REGISTER with SHA-256 digest -> 200')
b = UA(tls('127.0.0.3'), 'bob', 'mz4-Quasar-bob')
r, auth = b.register(alg='MD5')
expect(r.status == 200, 'REGISTER with MD5 digest -> 200')

# -- replay: the same Authorization (same nonce and nc) again
b.cseq += 1
b.c.send(request(b.c, 'REGISTER', 'sip:poprelay', '<%s>;tag=%s' % (b.aor, b.tag), '<%s>' % b.aor, b.call_id,
                 b.cseq, 'Contact: %s\r\nExpires: 600\r\n%s' % (b.contact(), auth)))
r = b.c.recv()
expect(r.status == 403, 'replayed Authorization (same nonce and nc) -> %d (403 expected)' % r.status)

# -- credentials computed for another Request-URI
x = UA(tls('127.0.0.4'), 'alice', 'tq7-Vortex-alice')
x.cseq += 1
x.c.send(request(x.c, 'REGISTER', 'sip:poprelay', '<%s>;tag=%s' % (x.aor, x.tag), '<%s>' % x.aor, x.call_id,
                 x.cseq, 'Contact: %s\r\nExpires: 600' % x.contact()))
ch = x.c.recv()
auth, _ = authorization(ch.all('www-authenticate'), 'alice', 'tq7-Vortex-alice', 'REGISTER', 'sip:elsewhere')
x.cseq += 1
x.c.send(request(x.c, 'REGISTER', 'sip:poprelay', '<%s>;tag=%s' % (x.aor, x.tag), '<%s>' % x.aor, x.call_id,
                 x.cseq, 'Contact: %s\r\nExpires: 600\r\n%s' % (x.contact(), auth)))
r = x.c.recv()
expect(r.status == 400, 'digest uri for another Request-URI -> %d (400)' % r.status)

# -- wrong password
w = UA(tls('127.0.0.4'), 'alice', 'wrong')
r, _ = w.register()
expect(r.status == 401, 'wrong password -> 401 with a fresh challenge')

# -- unknown user looks the same as a wrong password
u = UA(tls('127.0.0.4'), 'nosuchuser', 'x')
r, _ = u.register()
expect(r.status == 401, 'unknown user -> 401')

# -- stale nonce: answer a challenge after nonce_ttl_s (5 s)
s = UA(tls('127.0.0.5'), 'bob', 'mz4-Quasar-bob')
s.cseq += 1
s.c.send(request(s.c, 'REGISTER', 'sip:poprelay', '<%s>;tag=%s' % (s.aor, s.tag), '<%s>' % s.aor, s.call_id,
                 s.cseq, 'Contact: %s\r\nExpires: 600' % s.contact()))
ch = s.c.recv()
time.sleep(6.5)
auth, _ = authorization(ch.all('www-authenticate'), 'bob', 'mz4-Quasar-bob', 'REGISTER', 'sip:poprelay')
s.cseq += 1
s.c.send(request(s.c, 'REGISTER', 'sip:poprelay', '<%s>;tag=%s' % (s.aor, s.tag), '<%s>' % s.aor, s.call_id,
                 s.cseq, 'Contact: %s\r\nExpires: 600\r\n%s' % (s.contact(), auth)))
r = s.c.recv()
expect(r.status == 401 and 'stale=true' in ' '.join(r.all('www-authenticate')),
       'expired nonce -> 401 stale=true')

# -- REGISTER over plain UDP and TCP
for tp in ('udp', 'tcp'):
    c = Conn(tp, '127.0.0.1', PP, src='127.0.0.6')
    p = UA(c, 'alice', 'tq7-Vortex-alice')
    r, _ = p.register()
    expect(r.status == 403, 'REGISTER over %s -> %d (403 expected)' % (tp, r.status))
    c.close()

# -- an on-net identity calling over plain UDP (SRTP policy bypass attempt)
c = Conn('udp', '127.0.0.1', PP, src='127.0.0.6')
c.send(request(c, 'INVITE', b.aor, '<%s>;tag=u1' % a.aor, '<%s>' % b.aor, tok(), 1, 'Contact: <sip:alice@127.0.0.6>',
               sdp('10.0.0.6', 4000, 'RTP/AVP')))
r = c.recv()
while r.status < 200:
    r = c.recv()
expect(r.status == 403, 'INVITE from an on-net user over plain UDP -> %d (403)' % r.status)
c.close()

# -- on-net INVITE offering only RTP/AVP -> 488; SAVP to the same callee works
o = call(a, b, proto='RTP/AVP')
expect(o['final_a'].status == 488, 'on-net INVITE with RTP/AVP only -> %d (488 expected)' % o['final_a'].status)
o = call(a, b, proto='RTP/SAVP')
expect(o['final_a'].status == 200 and o.get('bye_a') and o['bye_a'].status == 200,
       'on-net INVITE with RTP/SAVP -> 200, BYE -> 200')

# -- CRLF keepalive (RFC 5626): ping answered with a pong on the same flow
a.c.send(b'\r\n\r\n')
pong = a.c.recv_raw(16)
expect(pong == b'\r\n', 'CRLF keepalive ping answered with CRLF pong')

# -- an extension we do not support in Require -> 420 Unsupported
c = Conn('udp', '127.0.0.1', PP, src='127.0.0.7')
c.send(request(c, 'OPTIONS', 'sip:poprelay', '<sip:x@carrier.example>;tag=r1', '<sip:poprelay>', tok(), 1,
               'Require: 100rel, foo'))
r = c.recv()
expect(r.status == 420 and '100rel' in r.get('unsupported', '') and 'foo' in r.get('unsupported', ''),
       'Require: 100rel, foo -> 420 Unsupported: %s' % r.get('unsupported'))

# -- scanner User-Agent
c = Conn('udp', '127.0.0.1', PP, src='127.0.0.7')
r = options(c, ua='friendly-scanner')
expect(r.status == 403, 'scanner User-Agent refused (403)')

# -- malformed corpus over UDP (all) and over one TLS connection (header-framed ones)
corpus = sorted(glob.glob(os.path.join(os.path.dirname(__file__), 'malformed', '*')))
mc = tls('127.0.0.8')
answered = 0
for f in corpus:
    data = open(f, 'rb').read()
    c.send(data)
    if f.endswith('.sip'):
        mc.send(data)
c.s.settimeout(0.5)
try:
    while True:
        m = c.recv()
        if m.status >= 400:
            answered += 1
except socket.timeout:
    pass
expect(answered >= 8, 'malformed corpus over UDP: %d answered with an error, the rest dropped' % answered)
expect(options(mc).status == 200, 'the TLS connection that carried the corpus still answers')
c.s.settimeout(5)
expect(options(c, ua='sp-test/1').status == 200, 'UDP still answers after the corpus')

# -- an over-64KiB message closes only its own connection
big = tls('127.0.0.8')
big.send(b'OPTIONS sip:poprelay SIP/2.0\r\nX-Big: ' + b'a' * 70000 + b'\r\n\r\n')
closed = False
try:
    big.recv()
except (EOFError, ConnectionError, ssl.SSLError, socket.timeout):
    closed = True
expect(closed, 'a message over 64 KiB closes that connection')
expect(options(mc).status == 200, 'other connections unaffected')

# -- flood from one source (UDP): rate-limited, another source unaffected
fl = Conn('udp', '127.0.0.1', PP, src='127.0.0.9')
N = 600
for i in range(N):
    fl.send(request(fl, 'OPTIONS', 'sip:poprelay', '<sip:f@x>;tag=%d' % i, '<sip:poprelay>', 'fl%d' % i, 1))
fl.s.settimeout(1.0)
got = 0
try:
    while True:
        fl.recv()
        got += 1
except socket.timeout:
    pass
expect(got < N // 2, 'flood of %d requests from one source: %d answered (rate-limited)' % (N, got))
other = Conn('udp', '127.0.0.1', PP, src='127.0.0.10')
expect(options(other).status == 200, 'another source is answered during the flood')

# -- a connection that never completes TLS is closed after first_message_timeout_s (2 s)
raw = socket.create_connection(('127.0.0.1', TP), source_address=('127.0.0.14', 0))
raw.settimeout(6)
t0 = time.time()
try:
    closed = raw.recv(10) == b''
except ConnectionResetError:
    closed = True
expect(closed and 1.5 < time.time() - t0 < 5, 'silent connection closed after %.1fs' % (time.time() - t0))
raw.close()

# -- at most max_flows_per_source (20) flows from one address; others unaffected
held, refused = [], 0
for i in range(25):
    try:
        held.append(tls('127.0.0.13'))
    except (ssl.SSLError, ConnectionError, OSError):
        refused += 1
expect(len(held) == 20 and refused == 5, 'flows from one source capped at 20 (%d open, %d refused)' % (len(held), refused))
expect(options(tls('127.0.0.15')).status == 200, 'another source still connects')
for h in held:
    h.close()
time.sleep(0.3)
expect(options(tls('127.0.0.13')).status == 200, 'the source connects again once its flows closed')

# -- lockout: 3 failures lock the user (and the source) out; then even the right password is refused
for i in range(3):
    x = UA(tls('127.0.0.11'), 'carol', 'bad%d' % i)
    x.register()
x = UA(tls('127.0.0.12'), 'carol', 'pk2-Nebula-carol')
r, _ = x.register()
expect(r.status == 403, 'user locked out after 3 failures: right password from elsewhere -> %d' % r.status)
x = UA(tls('127.0.0.11'), 'alice', 'tq7-Vortex-alice')
r, _ = x.register()
expect(r.status == 403, 'source locked out: another user from that source -> %d' % r.status)
print('all refusal scenarios passed')
