#!/usr/bin/env python3
"""Checks a baresip call through the slowpath from both baresip SIP traces (-s) and the
session record read from Redis during the call.
usage: baresip_trace.py ALICE_LOG BOB_LOG SESSION_DUMP SERVER_TLS_PORT PORT_LO PORT_HI
                         [SERVER_ADDR ALICE_ADDR BOB_ADDR]   (default 127.0.0.1/.2/.3)"""
import re, sys

def messages(path):
    txt = open(path, errors='replace').read()
    txt = re.sub(r'\x1b\[[0-9;]*m', '', txt)
    out = []
    for blk in txt.split('\n#\n')[1:]:
        lines = blk.split('\n')
        m = re.match(r'(\w+) (\S+) -> (\S+)', lines[0])
        if not m:
            continue
        raw = '\n'.join(lines[1:])
        head, _, body = raw.partition('\n\n')
        out.append({'src': m.group(2), 'dst': m.group(3), 'first': lines[1] if len(lines) > 1 else '',
                    'head': head, 'body': body})
    return out

def sdp_facts(body):
    c = re.search(r'^c=IN IP4 (\S+)', body, re.M)
    m = re.search(r'^m=audio (\d+) (\S+)', body, re.M)
    keys = re.findall(r'^a=crypto:\d+ (\S+) inline:([A-Za-z0-9+/=]+)', body, re.M)
    return {'addr': c and c.group(1), 'port': m and int(m.group(1)), 'proto': m and m.group(2), 'keys': keys}

fails = 0
def check(cond, what):
    global fails
    print(('ok: ' if cond else 'FAIL: ') + what)
    if not cond:
        fails += 1

alice, bob = messages(sys.argv[1]), messages(sys.argv[2])
sess = open(sys.argv[3]).read().split('\n')
sess = dict(zip(sess[0::2], sess[1::2]))
server, alice_ip, bob_ip = (sys.argv[7:10] if len(sys.argv) >= 10
                            else ('127.0.0.1', '127.0.0.2', '127.0.0.3'))
srv = server + ':' + sys.argv[4]
lo, hi = int(sys.argv[5]), int(sys.argv[6])

a_inv = next(x for x in alice if x['first'].startswith('INVITE') and x['dst'] == srv)
a_ok = next(x for x in alice if x['first'].startswith('SIP/2.0 200') and 'INVITE' in x['head'] and x['src'] == srv)
b_inv = next(x for x in bob if x['first'].startswith('INVITE') and x['src'] == srv)
b_ok = next(x for x in bob if x['first'].startswith('SIP/2.0 200') and 'INVITE' in x['head'] and x['dst'] == srv)
A_sent, A_seen = sdp_facts(a_inv['body']), sdp_facts(a_ok['body'])
B_seen, B_sent = sdp_facts(b_inv['body']), sdp_facts(b_ok['body'])

check(A_sent['proto'] == 'RTP/SAVP' and len(A_sent['keys']) >= 1, 'alice offered RTP/SAVP with SDES')
check(A_seen['addr'] == server and lo <= A_seen['port'] <= hi,
      'the answer alice sees points at the relay (%s:%s)' % (A_seen['addr'], A_seen['port']))
check(B_seen['addr'] == server and lo <= B_seen['port'] <= hi,
      'the offer bob sees points at the relay (%s:%s)' % (B_seen['addr'], B_seen['port']))
check(A_seen['port'] != B_seen['port'], 'each leg has its own relay port')
check(len(A_seen['keys']) == 1 and len(B_seen['keys']) == 1, 'one crypto line toward each device')
ka, kb = A_seen['keys'][0][1], B_seen['keys'][0][1]
own_a = [k for _, k in A_sent['keys']]
own_b = [k for _, k in B_sent['keys']]
check(ka != kb, 'the two legs carry different keys')
check(ka not in own_a + own_b and kb not in own_a + own_b, 'the relay keys are fresh (neither device\'s own key)')
check(alice_ip not in b_inv['body'] and bob_ip not in a_ok['body'],
      'no device address leaks to the other side')

check(sess.get('a_peer_addr') == A_sent['addr'] and int(sess.get('a_peer_port', 0)) == A_sent['port'],
      'session leg a peer = alice\'s SDP address')
check(sess.get('b_peer_addr') == B_sent['addr'] and int(sess.get('b_peer_port', 0)) == B_sent['port'],
      'session leg b peer = bob\'s SDP address')
check(int(sess.get('a_relay_port', 0)) == A_seen['port'] and int(sess.get('b_relay_port', 0)) == B_seen['port'],
      'session relay ports = the ports in the rewritten SDPs')
check(sess.get('a_key_tx') == ka and sess.get('b_key_tx') == kb, 'session tx keys = the keys sent to each device')
check(sess.get('a_key_rx') in own_a and sess.get('b_key_rx') in own_b, 'session rx keys = the devices\' own keys')
check(sess.get('a_encrypted') == '1' and sess.get('b_encrypted') == '1', 'both legs recorded encrypted')
check(sess.get('a_suite') == 'AES_CM_128_HMAC_SHA1_80', 'suite recorded')
check(sess.get('a_onnet') == '1' and sess.get('b_onnet') == '1', 'both legs on-net')
sys.exit(1 if fails else 0)
