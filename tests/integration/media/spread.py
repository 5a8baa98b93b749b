#!/usr/bin/env python3
"""Calls through the slowpath for tests/integration/media_spread.sh: alice (ALICE_IP) calls
bob (BOB_IP) CALLS times over TLS (SRTP, SDES), all calls up at once; each call's anchor is
read from the SDP both devices got (the same address on both legs, and the session record's
X_relay_addr); then every call's media runs at once, two mpeer devices a call (SRTP both
ways, payloads checked intact and from the other device), and the calls are hung up.
  --want A,B   every call anchored on one of these, and each of them used by one call at least
  --reinvite   the first call on the second --want address gets a re-INVITE: it stays there
  --refused    one call only, which must be refused 503 (no live anchor); prints its CDR id
usage: spread.py DIR SP_ADDR ALICE_IP BOB_IP MPEER CALLS [--want A,B] [--reinvite] [--refused]"""
import base64, json, os, re, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'slowpath'))
from sipclient import *

D, SP, IP_A, IP_B, MPEER, N = sys.argv[1:7]
N = int(N)
opts = sys.argv[7:]
want = opts[opts.index('--want') + 1].split(',') if '--want' in opts else []
SUITE = 'AES_CM_128_HMAC_SHA1_80'
CA = D + '/ca.crt'

def ua(name, pw, src):
    u = UA(Conn('tls', SP, 5061, cafile=CA, src=src, timeout=10.0), name, pw)
    expect(u.register()[0].status == 200, '%s registered from %s' % (name, src))
    return u

a = ua('alice', 'tq7-Vortex-alice', IP_A)
b = ua('bob', 'mz4-Quasar-bob', IP_B)

def offer(ip, port):
    key = base64.b64encode(os.urandom(30)).decode()
    return sdp(ip, port, 'RTP/SAVP', key), key

def anchor_of(body):
    body = body.decode()
    c = re.search(r'c=IN IP[46] (\S+)', body).group(1)
    port = int(re.search(r'm=audio (\d+)', body).group(1))
    key = re.search(r'inline:([A-Za-z0-9+/=]+)', body).group(1)
    return c, port, key

def final(c):
    r = c.recv()
    while r.status and r.status < 200:
        r = c.recv()
    return r

def answer_ok(inc, body):
    btag = tok(8)
    resp = ['SIP/2.0 200 OK'] + ['Via: ' + v for v in inc.all('via')] + [
        'From: ' + inc.get('from'), 'To: %s;tag=%s' % (inc.get('to'), btag) if 'tag=' not in inc.get('to')
        else 'To: ' + inc.get('to'), 'Call-ID: ' + inc.get('call-id'), 'CSeq: ' + inc.get('cseq'),
        'Contact: ' + b.contact(), 'Content-Type: application/sdp', 'Content-Length: %d' % len(body)]
    b.c.send('\r\n'.join(resp) + '\r\n\r\n' + body)

def place(i):
    pa, pb = 40000 + 4 * i, 42000 + 4 * i
    oa, ka = offer(IP_A, pa)
    call_id, ftag = tok(16) + '@spread', tok(8)
    frm, to = '<%s>;tag=%s' % (a.aor, ftag), '<%s>' % b.aor
    a.c.send(request(a.c, 'INVITE', b.aor, frm, to, call_id, 1, 'Contact: ' + a.contact(), oa))
    r = a.c.recv()
    if r.status != 100:
        return {'final': r}
    inc = b.c.recv()
    ob, kb = offer(IP_B, pb)
    answer_ok(inc, ob)
    expect(b.c.recv().method == 'ACK', 'call %d: the callee\'s 200 is ACKed' % i)
    fin = final(a.c)
    expect(fin.status == 200, 'call %d answered (got %d)' % (i, fin.status))
    a.c.send(request(a.c, 'ACK', b.aor, frm, fin.get('to'), call_id, 1))
    ra, rpa, rka = anchor_of(fin.body)
    rb, rpb, rkb = anchor_of(inc.body)
    expect(ra == rb, 'call %d: both legs anchored on one dataplane (%s, %s)' % (i, ra, rb))
    return dict(i=i, call_id=call_id, frm=frm, to=fin.get('to'), anchor=ra, pa=pa, pb=pb, ka=ka,
                kb=kb, ra=(ra, rpa, rka), rb=(rb, rpb, rkb), final=fin)

def bye(c):
    a.c.send(request(a.c, 'BYE', b.aor, c['frm'], c['to'], c['call_id'], 3))
    m = b.c.recv()
    resp = ['SIP/2.0 200 OK'] + ['Via: ' + v for v in m.all('via')] + [
        'From: ' + m.get('from'), 'To: ' + m.get('to'), 'Call-ID: ' + m.get('call-id'),
        'CSeq: ' + m.get('cseq'), 'Content-Length: 0']
    b.c.send('\r\n'.join(resp) + '\r\n\r\n')
    expect(a.c.recv().status == 200, 'call %d hung up' % c['i'])

if '--refused' in opts:
    r = place(0)['final']
    expect(r.status == 503, 'a call with no live anchor is refused 503 (got %d %s)' % (r.status, r.first))
    expect('no live media anchor' in (r.get('warning') or ''), 'its Warning says why: %s' % r.get('warning'))
    sys.exit(0)

calls = [place(i) for i in range(N)]
ses = {}
for sid in redis(D, 'SMEMBERS', 'pr:sessions').split():
    v = redis(D, 'HGETALL', 'pr:session:' + sid).split('\n')
    h = dict(zip(v[0::2], v[1::2]))
    ses[h.get('call_id')] = h
for c in calls:
    h = ses.get(c['call_id'], {})
    expect(h.get('a_relay_addr') == c['anchor'] and h.get('b_relay_addr') == c['anchor'],
           'call %d: the session record is anchored on %s too' % (c['i'], c['anchor']))
count = {}
for c in calls:
    count[c['anchor']] = count.get(c['anchor'], 0) + 1
print('anchors: ' + ' '.join('%s=%d' % kv for kv in sorted(count.items())))
if want:
    expect(set(count) <= set(want), 'every call anchored on %s (got %s)' % (want, count))
    expect(set(count) == set(want), 'each of %s anchored a call (got %s)' % (want, count))

if '--reinvite' in opts and len(want) > 1:
    c = next(x for x in calls if x['anchor'] == want[1])
    o2, _ = offer(IP_A, c['pa'] + 2)
    a.c.send(request(a.c, 'INVITE', b.aor, c['frm'], c['to'], c['call_id'], 2, 'Contact: ' + a.contact(), o2))
    rei = b.c.recv()
    while rei.method != 'INVITE':
        rei = b.c.recv()
    expect(anchor_of(rei.body)[0] == c['anchor'], 're-INVITE: the callee\'s offer stays on %s' % c['anchor'])
    c['rb'] = anchor_of(rei.body)
    ob2, _ = offer(IP_B, c['pb'])
    ob2 = ob2.replace(re.search(r'inline:(\S+)', ob2).group(1), c['kb'])
    answer_ok(rei, ob2)
    r = final(a.c)
    expect(r.status == 200 and anchor_of(r.body)[0] == c['anchor'],
           're-INVITE: the caller\'s answer stays on %s' % c['anchor'])
    expect(b.c.recv().method == 'ACK', 're-INVITE: the callee gets the ACK')
    a.c.send(request(a.c, 'ACK', b.aor, c['frm'], c['to'], c['call_id'], 2))
    # the caller moved to its new port: its mpeer binds there
    c['pa'] += 2
    c['ka'] = re.search(r'inline:(\S+)', o2).group(1)
    c['ra'] = anchor_of(r.body)
    time.sleep(0.3)

# media: every call at once, each device sends 100 packets and must get the other's intact
procs = []
for c in calls:
    for me, other, ip, port, key, (raddr, rport, rkey) in (
            ('a', 'b', IP_A, c['pa'], c['ka'], c['ra']), ('b', 'a', IP_B, c['pb'], c['kb'], c['rb'])):
        cmd = [MPEER, '--bind', '%s:%d' % (ip, port), '--to', '%s:%d' % (raddr, rport), '--suite', SUITE,
               '--tx-key', key, '--rx-key', rkey, '--id', me, '--expect-id', other, '--count', '100',
               '--rate', '50', '--linger-ms', '1500', '--expect', '95', '--quiet']
        procs.append((c, me, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
per_anchor = {}
for c, me, p in procs:
    out, err = p.communicate(timeout=30)
    try:
        j = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        expect(False, 'call %d device %s: mpeer printed no figures: %s' % (c['i'], me, err))
    # (the first packets of a stream may go before its contexts exist: most must come)
    expect(j['payload_ok'] >= 60 and j['payload_bad'] == 0 and j['wrong_sender'] == 0 and j['auth_fail'] == 0,
           'call %d (%s) device %s: the other device\'s SRTP relayed intact (%d ok)' % (
               c['i'], c['anchor'], me, j['payload_ok']))
    per_anchor[c['anchor']] = per_anchor.get(c['anchor'], 0) + j['payload_ok']
print('relayed: ' + ' '.join('%s=%d' % kv for kv in sorted(per_anchor.items())))
for c in calls:
    bye(c)
