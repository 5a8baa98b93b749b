#!/usr/bin/env python3
"""ha_failover_ng.py NG_IP:PORT CALL_ID A_IP:PORT B_IP:PORT: one clear RTP call (RTP/AVP,
PCMU) set up on rtpengine over NG for tests/bench/ha_failover.sh: device A offers, device B
answers. Prints "PORT_A PORT_B": the ports on rtpengine's address that A and B send to."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "media"))
from ng import Ng  # noqa: E402


def sdp(ip, port):
    return "\r\n".join(["v=0", "o=- 1 1 IN IP4 %s" % ip, "s=-", "c=IN IP4 %s" % ip, "t=0 0",
                        "m=audio %s RTP/AVP 0" % port, "a=rtpmap:0 PCMU/8000",
                        "a=sendrecv"]) + "\r\n"


def port(s):
    return int(re.search(r"^m=audio (\d+) ", s.decode(), re.M).group(1))


def main():
    host, ngport = sys.argv[1].rsplit(":", 1)
    cid = sys.argv[2]
    a_ip, a_port = sys.argv[3].rsplit(":", 1)
    b_ip, b_port = sys.argv[4].rsplit(":", 1)
    ng = Ng((host, int(ngport)))
    opts = {"ICE": "remove", "replace": ["origin", "session-connection"]}
    r = ng(dict(opts, command="offer", **{"call-id": cid, "from-tag": "a",
                                           "sdp": sdp(a_ip, a_port)}))
    to_b = port(r["sdp"])
    r = ng(dict(opts, command="answer", **{"call-id": cid, "from-tag": "a", "to-tag": "b",
                                            "sdp": sdp(b_ip, b_port)}))
    print(port(r["sdp"]), to_b)


if __name__ == "__main__":
    main()
