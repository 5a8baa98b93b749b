#!/usr/bin/env python3
"""TLS records that reach the slowpath together, for slowpath_tls_coalesced.sh. The
slowpath reads ahead on its TLS flows (one read() takes every record the socket holds), so
records beyond the first wait in OpenSSL's buffer with no socket event to come: each case
sends its records in one send() and wants every request answered within 5 s.

  finished+first   TLS 1.3: the client's Finished and its first OPTIONS in one segment
  two              two OPTIONS, one record each, in one segment
  many             20 OPTIONS, one record each, in one segment
  split            a record and half of the next; 0.3 s later the rest
  tls12            two OPTIONS in one segment over TLS 1.2
  backpressure     20,000 OPTIONS sent while not reading, into a 4 KiB receive buffer: the
                   slowpath's socket fills and its SSL_write must wait and retry; then
                   every answer read, each a 200 for its CSeq, in order

Prints "ok CASE" per case, or "fail CASE: WHY" and exits 1. Standard library only:
ssl.MemoryBIO holds the records until the test sends them."""
import socket, ssl, sys, time

port, cafile = int(sys.argv[1]), sys.argv[2]


def options(n, src):
    return ('OPTIONS sip:127.0.0.1:%d;transport=tls SIP/2.0\r\n'
            'Via: SIP/2.0/TLS %s:%d;branch=z9hG4bKco%d%d;rport\r\n'
            'Max-Forwards: 70\r\n'
            'From: <sip:probe@poprelay>;tag=co%d\r\n'
            'To: <sip:127.0.0.1>\r\n'
            'Call-ID: coalesced-%d-%d@test\r\n'
            'CSeq: %d OPTIONS\r\n'
            'Content-Length: 0\r\n\r\n' % (port, src[0], src[1], src[1], n, n, src[1], n, n + 1)).encode()


class Flow:
    def __init__(self, version=None, rcvbuf=None):
        ctx = ssl.create_default_context(cafile=cafile)
        if version:
            ctx.minimum_version = ctx.maximum_version = version
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(5)
        self.sock.connect(('127.0.0.1', port))
        self.src = self.sock.getsockname()
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out, server_hostname='127.0.0.1')
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.sock.sendall(self.out.read())
                self.feed()
        # what the handshake left to send (TLS 1.3: the client's Finished) stays in self.out

    def feed(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError('connection closed by the slowpath')
        self.inc.write(d)

    def record(self, data):
        """data as one record: its bytes, with anything pending before it"""
        self.tls.write(data)
        return self.out.read()

    def answers(self, n, wait=5, cseqs=None):
        """waits up to wait s for n responses; returns their status lines (and appends their
        CSeq numbers to cseqs)"""
        buf, got = b'', []
        deadline = time.time() + wait
        while len(got) < n:
            try:
                while True:
                    buf += self.tls.read(65536)
            except ssl.SSLWantReadError:
                pass
            while b'\r\n\r\n' in buf:
                head, buf = buf.split(b'\r\n\r\n', 1)
                got.append(head.split(b'\r\n', 1)[0].decode())
                if cseqs is not None:
                    cseqs.append(int(head.split(b'\r\nCSeq: ', 1)[1].split(b' ', 1)[0]))
            if len(got) >= n:
                break
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError('%d of %d answered in %d s' % (len(got), n, wait))
            self.sock.settimeout(left)
            self.feed()
        return got

    def close(self):
        self.sock.close()


def case(name, fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 -- the test reports whatever went wrong
        print('fail %s: %s' % (name, e), flush=True)
        sys.exit(1)
    print('ok %s' % name, flush=True)


def expect(name, got, n):
    bad = [g for g in got if not g.startswith('SIP/2.0 200')]
    if len(got) != n or bad:
        raise AssertionError('%s: %r' % (name, got))


def finished_first():
    f = Flow(ssl.TLSVersion.TLSv1_3)
    pending = f.out.pending
    if not pending:
        raise AssertionError('no client Finished left to send: the case tests nothing')
    f.sock.sendall(f.record(options(0, f.src)))
    expect('finished+first', f.answers(1), 1)
    f.close()


def together(n, version=None):
    f = Flow(version)
    f.sock.sendall(f.out.read())  # the handshake's end on its own
    seg = b''.join(f.record(options(i, f.src)) for i in range(n))
    f.sock.sendall(seg)
    expect('together', f.answers(n), n)
    f.close()


def split():
    f = Flow()
    f.sock.sendall(f.out.read())
    a, b = f.record(options(0, f.src)), f.record(options(1, f.src))
    f.sock.sendall(a + b[:len(b) // 2])
    time.sleep(0.3)
    f.sock.sendall(b[len(b) // 2:])
    expect('split', f.answers(2), 2)
    f.close()


def backpressure():
    n = 20000
    f = Flow(rcvbuf=4096)
    f.sock.sendall(f.out.read())
    seg = b''.join(f.record(options(i, f.src)) for i in range(n))
    f.sock.settimeout(60)
    f.sock.sendall(seg)  # the slowpath answers as it reads: its answers pile up meanwhile
    time.sleep(1)
    cseqs = []
    got = f.answers(n, wait=60, cseqs=cseqs)
    expect('backpressure', got, n)
    if cseqs != list(range(1, n + 1)):
        bad = next(i for i, c in enumerate(cseqs) if c != i + 1)
        raise AssertionError('answer %d has CSeq %d' % (bad, cseqs[bad]))
    f.close()


case('finished+first', finished_first)
case('two', lambda: together(2))
case('many', lambda: together(20))
case('split', split)
case('tls12', lambda: together(2, ssl.TLSVersion.TLSv1_2))
case('backpressure', backpressure)
