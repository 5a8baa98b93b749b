#!/usr/bin/env python3
"""Holds N live TLS flows to the slowpath for slowpath_tls.sh: opens them (from 127.0.0.x
sources, a few hundred per address), records each one's server certificate fingerprint, then
waits for commands on stdin, one a line, answering one line on stdout each:

  check      every flow still open answers an OPTIONS with 200; prints
             "ok N FINGERPRINT..." (the distinct fingerprints the flows were set up with) or
             "fail WHY" naming how many flows were closed or silent
  quit       closes them

Standard library only; one selector loop, so a thousand flows cost one process."""
import hashlib, os, resource, selectors, socket, ssl, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipclient import tok

port, cafile, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
PER_SRC = 250
ctx = ssl.create_default_context(cafile=cafile)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

flows = []  # [sock, fingerprint, rx buffer]
for i in range(n):
    src = '127.0.0.%d' % (10 + i // PER_SRC)
    raw = socket.socket()
    raw.bind((src, 0))
    raw.settimeout(10)
    raw.connect(('127.0.0.1', port))
    s = ctx.wrap_socket(raw, server_hostname='127.0.0.1')
    fp = hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest().upper()
    s.sendall(b'\r\n\r\n')  # RFC 5626 ping: the flow is active, the long idle timeout applies
    s.setblocking(False)
    flows.append([s, fp, b''])
print('open %d' % len(flows), flush=True)


def options(i, s):
    src, sport = s.getsockname()
    cid = tok()
    return ('OPTIONS sip:127.0.0.1:%d;transport=tls SIP/2.0\r\n'
            'Via: SIP/2.0/TLS %s:%d;branch=z9hG4bK%s;rport\r\n'
            'Max-Forwards: 70\r\n'
            'From: <sip:probe%d@poprelay>;tag=%s\r\n'
            'To: <sip:127.0.0.1>\r\n'
            'Call-ID: %s\r\n'
            'CSeq: 1 OPTIONS\r\n'
            'Content-Length: 0\r\n\r\n' % (port, src, sport, tok(), i, tok(), cid)).encode()


def check():
    sel = selectors.DefaultSelector()
    closed = 0
    waiting = {}
    for i, f in enumerate(flows):
        s = f[0]
        try:
            s.setblocking(True)
            s.settimeout(5)
            s.sendall(options(i, s))
            s.setblocking(False)
        except (OSError, ssl.SSLError):
            closed += 1
            continue
        f[2] = b''
        waiting[s] = f
        sel.register(s, selectors.EVENT_READ)
    deadline = time.time() + 20
    bad = 0
    while waiting and time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            f = waiting[s]
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        raise EOFError
                    f[2] += d
            except (ssl.SSLWantReadError, BlockingIOError):
                pass
            except (OSError, EOFError, ssl.SSLError):
                closed += 1
                sel.unregister(s)
                del waiting[s]
                continue
            head = f[2].lstrip(b'\r\n')
            if b'\r\n\r\n' in head:
                if not head.startswith(b'SIP/2.0 200'):
                    bad += 1
                sel.unregister(s)
                del waiting[s]
    sel.close()
    if closed or waiting or bad:
        return 'fail %d closed, %d silent, %d not 200 of %d' % (closed, len(waiting), bad,
                                                                 len(flows))
    return 'ok %d %s' % (len(flows), ' '.join(sorted({f[1] for f in flows})))


for line in sys.stdin:
    cmd = line.strip()
    if cmd == 'check':
        print(check(), flush=True)
    elif cmd == 'quit':
        break
for f in flows:
    f[0].close()
