#!/usr/bin/env python3
"""SIP for drain.sh, over slowpath/sipclient.py (TLS). Prints one JSON line:
{"status": N, "retry_after": "..." or null, "warning": "..." or null}.

  drain_sip.py register --server IP --ca CA --src IP --user U --password P
      A REGISTER (answering the 401 challenge when there is one).
  drain_sip.py invite --server IP --ca CA --src IP --user U --to CALLEE
      An INVITE that would start a call (no credentials: the first answer is reported).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "slowpath"))
import sipclient as sc  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["register", "invite"])
    ap.add_argument("--server", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", default="")
    ap.add_argument("--to", default="bob")
    o = ap.parse_args()
    c = sc.Conn("tls", o.server, 5061, cafile=o.ca, src=o.src)
    ua = sc.UA(c, o.user, o.password)
    if o.cmd == "register":
        r, _ = ua.register(alg="MD5")
    else:
        port = 40000
        body = sc.sdp(o.src, port)
        ruri = "sip:%s@poprelay" % o.to
        c.send(sc.request(c, "INVITE", ruri, "<%s>;tag=%s" % (ua.aor, ua.tag), "<%s>" % ruri,
                          ua.call_id, 1, "Contact: " + ua.contact(), body))
        while True:
            r = c.recv()
            if r.status >= 200:
                break
        if r.status < 300:  # not expected here; leave nothing behind
            c.send(sc.request(c, "BYE", ruri, "<%s>;tag=%s" % (ua.aor, ua.tag), "<%s>" % ruri,
                              ua.call_id, 2))
    print(json.dumps({"status": r.status, "retry_after": r.get("retry-after"),
                      "warning": r.get("warning")}), flush=True)
    c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
