#!/usr/bin/env python3
"""Two SIP devices (alice, bob; RFC 5626 outbound, TLS) for slowpath_restart.sh, driven in
steps over stdin/stdout so that the shell can kill and restart the slowpath in between.

usage: restart.py CA SP_ADDR ALICE_IP BOB_IP

  1. both register; alice calls bob twice (SRTP offers with keys of our own): call 1 will
     carry media (mpeer), call 2 is the one whose session the test removes. Prints
     `CALL1 {json}` and `CALL2 {json}`: the Call-IDs of both legs, each device's relay port
     and the SDES keys each device sends and receives with.
  2. on `reconnect` (the slowpath was killed and restarted: the TLS flows are gone): each
     device opens a new TLS flow and registers again, as a device does when its flow fails
     (RFC 5626 4.4.1). Prints `ok: ...`.
  3. on `bye`: alice sends BYE in call 1's dialog on her new flow; bob must get it on his new
     flow (the slowpath found his current binding) and answers 200; alice gets the 200.
     Then a BYE in call 2's dialog must get 481 (ended at the restore). Prints `BYE {json}`.
Any failure prints `FAIL: ...` and exits 1."""
import base64, json, os, re, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from sipclient import Conn, UA, request, sdp, tok

CA, SP, IPA, IPB = sys.argv[1:5]
PW = {'alice': 'tq7-Vortex-alice', 'bob': 'mz4-Quasar-bob'}
INST = {'alice': '<urn:uuid:00000000-0000-4000-8000-0000000a11ce>',
        'bob': '<urn:uuid:00000000-0000-4000-8000-000000000b0b>'}


def out(line):
    print(line, flush=True)


def fail(msg):
    out('FAIL: ' + msg)
    sys.exit(1)


def device(name, src, ua=None):
    c = Conn('tls', SP, 5061, cafile=CA, src=src)
    if ua is None:
        ua = UA(c, name, PW[name])
    else:
        ua.c = c
    r, _ = ua.register(extra_contact=';+sip.instance="%s";reg-id=1' % INST[name])
    if r.status != 200:
        fail('%s: REGISTER answered %d' % (name, r.status))
    return ua


def recv_request(c, method):
    m = c.recv()
    while m.method != method:
        m = c.recv()
    return m


def final(c):
    r = c.recv()
    while r.status and r.status < 200:
        r = c.recv()
    return r


def respond(c, m, code, reason, totag=None, contact=None, body=''):
    to = m.get('to') + (';tag=' + totag if totag else '')
    h = ['SIP/2.0 %d %s' % (code, reason)] + ['Via: ' + v for v in m.all('via')] + [
        'From: ' + m.get('from'), 'To: ' + to, 'Call-ID: ' + m.get('call-id'), 'CSeq: ' + m.get('cseq')]
    if contact:
        h.append('Contact: ' + contact)
    if body:
        h.append('Content-Type: application/sdp')
    h.append('Content-Length: %d' % len(body))
    c.send('\r\n'.join(h) + '\r\n\r\n' + body)


def sdes(body):
    m = re.search(r'm=audio (\d+) ', body)
    k = re.search(r'a=crypto:\d+ (\S+) inline:([^|\s]+)', body)
    return int(m.group(1)), k.group(1), k.group(2)


def call(a, b, port_a, port_b):
    ka = base64.b64encode(os.urandom(30)).decode()
    kb = base64.b64encode(os.urandom(30)).decode()
    cid, ftag = tok(16) + '@restart', tok(8)
    frm, to = '<%s>;tag=%s' % (a.aor, ftag), '<%s>' % b.aor
    a.c.send(request(a.c, 'INVITE', b.aor, frm, to, cid, 1, 'Contact: ' + a.contact(),
                     sdp(IPA, port_a, key=ka)))
    inv = recv_request(b.c, 'INVITE')
    relay_b, suite, kb_rx = sdes(inv.body.decode())
    btag = tok(8)
    respond(b.c, inv, 200, 'OK', btag, b.contact(), sdp(IPB, port_b, key=kb))
    ack = recv_request(b.c, 'ACK')
    fin = final(a.c)
    if fin.status != 200:
        fail('call: alice got %d' % fin.status)
    relay_a, _, ka_rx = sdes(fin.body.decode())
    a.c.send(request(a.c, 'ACK', b.aor, frm, fin.get('to'), cid, 1))
    return {'a_call_id': cid, 'b_call_id': inv.get('call-id'), 'suite': suite,
            'relay_a': relay_a, 'relay_b': relay_b, 'ka_tx': ka, 'ka_rx': ka_rx,
            'kb_tx': kb, 'kb_rx': kb_rx, 'port_a': port_a, 'port_b': port_b,
            '_frm': frm, '_to': fin.get('to'), '_ack_b': ack.get('cseq')}


def public(c):
    return {k: v for k, v in c.items() if not k.startswith('_')}


a = device('alice', IPA)
b = device('bob', IPB)
out('ok: alice and bob registered over TLS with +sip.instance and reg-id')
c1 = call(a, b, 41000, 41002)
out('CALL1 ' + json.dumps(public(c1)))
c2 = call(a, b, 41100, 41102)
out('CALL2 ' + json.dumps(public(c2)))

for line in sys.stdin:
    cmd = line.strip()
    if cmd == 'reconnect':
        old = (a.c.local, b.c.local)
        for u in (a, b):
            u.c.close()
        device('alice', IPA, a)
        device('bob', IPB, b)
        out('ok: alice and bob registered again on new TLS flows (%s:%d -> %s:%d, %s:%d -> %s:%d)' %
            (old[0] + a.c.local + old[1] + b.c.local))
    elif cmd == 'bye':
        t0 = time.time()
        a.c.send(request(a.c, 'BYE', b.aor, c1['_frm'], c1['_to'], c1['a_call_id'], 2))
        bye = recv_request(b.c, 'BYE')
        cseq = int(bye.get('cseq').split()[0])
        respond(b.c, bye, 200, 'OK')
        r = final(a.c)
        res = {'bye_call_id': bye.get('call-id'), 'bye_cseq': cseq, 'alice_got': r.status,
               'ms': int((time.time() - t0) * 1000)}
        # call 2 was ended at the restore: its dialog is unknown now
        a.c.send(request(a.c, 'BYE', b.aor, c2['_frm'], c2['_to'], c2['a_call_id'], 2))
        res['call2_bye'] = final(a.c).status
        out('BYE ' + json.dumps(res))
        sys.exit(0)
