#!/usr/bin/env python3
"""A registration storm for ha_appliance_dies.sh: N devices (user0..userN-1, one TLS flow
each, from SRC) REGISTER over and over (digest MD5, Expires 600) to SERVER:PORT until the
file STOP exists, then each ends on one more acknowledged REGISTER (or gives up at the
deadline). A flow that fails (reset, closed, no answer within 2 s) is replaced by a new one
(another source port, so another Contact). The first QUIET devices register once and then
stay silent on their flow until STOP (a binding acknowledged before a failure and not
refreshed since). One JSON object a line on stdout:
  {"ack": USER, "port": P, "t": T}        a REGISTER answered 200 from source port P at T
  {"err": USER, "what": ..., "t": T}       a flow lost or a REGISTER not answered 200
  {"done": USER, "acks": N, "last_port": P, "last_ok": BOOL}   at the end, per device
regstorm.py SERVER PORT CAFILE SRC PASSWORD N QUIET STOP DEADLINE_S"""
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "slowpath"))
import sipclient  # noqa: E402

lock = threading.Lock()


def out(**kw):
    with lock:
        print(json.dumps(kw), flush=True)


def device(server, port, ca, src, pw, user, quiet, stop, deadline):
    conn = ua = None
    acks, last_port, last_ok = 0, None, False
    while time.time() < deadline:
        if last_ok and (quiet or os.path.exists(stop)):
            while quiet and not os.path.exists(stop) and time.time() < deadline:
                time.sleep(0.1)
            break
        last_ok = False
        try:
            if conn is None:
                conn = sipclient.Conn("tls", server, port, cafile=ca, src=src, timeout=2.0)
                ua = sipclient.UA(conn, user, pw)
            r, _ = ua.register(expires=600, alg="MD5")
            if r.status == 200:
                acks, last_port, last_ok = acks + 1, conn.local[1], True
                out(ack=user, port=conn.local[1], t=time.time())
            else:
                out(err=user, what="status %d" % r.status, t=time.time())
                time.sleep(0.5)
        except Exception as e:  # a dead flow: the next REGISTER goes on a new one
            out(err=user, what="%s: %s" % (type(e).__name__, e), t=time.time())
            try:
                conn.close()
            except Exception:
                pass
            conn = None
            time.sleep(0.2)
        time.sleep(random.uniform(0.1, 0.4))
    out(done=user, acks=acks, last_port=last_port, last_ok=last_ok)


def main(argv):
    server, port, ca, src, pw, n, quiet, stop, dl = argv[1:]
    deadline = time.time() + float(dl)
    ts = [threading.Thread(target=device, args=(server, int(port), ca, src, pw, "user%d" % i,
                                                i < int(quiet), stop, deadline)) for i in range(int(n))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
