#!/usr/bin/env python3
"""ng_dtls.py NG_IP:PORT CALLS LEGS A_IP A_PORT0 B_IP:PORT FINGERPRINT: sets up CALLS calls on
rtpengine over its NG protocol in which rtpengine is the DTLS-SRTP server toward a browser,
and writes the legs file of tests/bench/webrtc/dtlsload ("BIND TARGET" a line: the browser's
address, rtpengine's port for it).

Each call: the browser A (A_IP, port A_PORT0 + 2i) offers UDP/TLS/RTP/SAVPF with
a=fingerprint FINGERPRINT (the load client's certificate), a=setup:active (A is the DTLS
client) and rtcp-mux, no ICE candidates; rtpengine offers it to B as plain RTP/AVP
("transport-protocol"), ICE "remove" and DTLS "off" toward B. B (B_IP:PORT) answers RTP/AVP;
the answer's flags ask for DTLS "passive" and ICE "remove" toward A, so rtpengine answers A
with UDP/TLS/RTP/SAVPF, its own fingerprint, a=setup:passive and a port of its own: the
port where it waits for A's ClientHello and checks A's certificate against the offered
fingerprint. rtpengine's own fingerprint (the same for every call) goes to stdout for the
client's --server-fpr. Calls left by an earlier run are deleted first."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "media"))
from ng import Ng  # noqa: E402


def sdp_a(ip, port, fpr):
    return "\r\n".join([
        "v=0", "o=- 1 1 IN IP4 %s" % ip, "s=-", "c=IN IP4 %s" % ip, "t=0 0",
        "m=audio %d UDP/TLS/RTP/SAVPF 111" % port, "a=rtpmap:111 opus/48000/2",
        "a=fingerprint:%s" % fpr, "a=setup:active", "a=rtcp-mux", "a=sendrecv"]) + "\r\n"


def sdp_b(ip, port):
    return "\r\n".join([
        "v=0", "o=- 1 1 IN IP4 %s" % ip, "s=-", "c=IN IP4 %s" % ip, "t=0 0",
        "m=audio %d RTP/AVP 111" % port, "a=rtpmap:111 opus/48000/2", "a=sendrecv"]) + "\r\n"


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    calls, out, a_ip, a_port0 = int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    b_ip, b_port = sys.argv[6].rsplit(":", 1)
    fpr = sys.argv[7]
    ng = Ng((host, int(port)))
    run = os.urandom(4).hex()
    for cid in ng({"command": "list", "limit": "1000000"}).get("calls", []):
        ng({"command": "delete", "call-id": cid})
    theirs = set()
    with open(out, "w") as f:
        for i in range(calls):
            cid, ap = "dtls-%s-%05d" % (run, i), a_port0 + 2 * i
            ng({"command": "offer", "call-id": cid, "from-tag": "a%d" % i,
                "sdp": sdp_a(a_ip, ap, fpr), "transport-protocol": "RTP/AVP",
                "ICE": "remove", "DTLS": "off", "replace": ["origin", "session-connection"]})
            r = ng({"command": "answer", "call-id": cid, "from-tag": "a%d" % i,
                    "to-tag": "b%d" % i, "sdp": sdp_b(b_ip, int(b_port)), "ICE": "remove",
                    "DTLS": "passive", "replace": ["origin", "session-connection"]})
            s = r["sdp"].decode()
            m = re.search(r"^m=audio (\d+) (\S+)", s, re.M)
            ip = re.search(r"^c=IN IP4 (\S+)", s, re.M).group(1)
            fp = re.search(r"^a=fingerprint:sha-256 (\S+)", s, re.M)
            setup = re.search(r"^a=setup:(\S+)", s, re.M)
            if (not m or m.group(2) != "UDP/TLS/RTP/SAVPF" or not fp or not setup or
                    setup.group(1) != "passive" or "a=candidate" in s):
                sys.exit("ng_dtls.py: call %s: rtpengine's answer to A is not DTLS-SRTP passive "
                         "without ICE:\n%s" % (cid, s))
            theirs.add(fp.group(1).upper())
            f.write("%s:%d %s:%s\n" % (a_ip, ap, ip, m.group(1)))
    if len(theirs) != 1:
        sys.exit("ng_dtls.py: rtpengine answered with %d fingerprints" % len(theirs))
    print("sha-256 " + theirs.pop())


if __name__ == "__main__":
    main()
