#!/usr/bin/env python3
"""users.py PASSWORD END [FIRST]: the Redis commands (for redis-cli on stdin) that create the
SIP users user<FIRST>..user<END-1> (FIRST 0) with PASSWORD, as `poprelayctl user add` writes
them (pr:user:<name> with both HA1 digests, and pr:users), for load clients such as
tests/bench/sip/sipload that log in as userN."""
import hashlib
import sys
import time


def main(argv):
    pw, end = argv[1], int(argv[2])
    first = int(argv[3]) if len(argv) > 3 else 0
    now = int(time.time())
    for i in range(first, end):
        u = 'user%d' % i
        a1 = ('%s:poprelay:%s' % (u, pw)).encode()
        print('HSET pr:user:%s v 1 name %s realm poprelay ha1_md5 %s ha1_sha256 %s '
              'uri sip:%s@poprelay pop pop1 created %d updated %d'
              % (u, u, hashlib.md5(a1).hexdigest(), hashlib.sha256(a1).hexdigest(), u, now, now))
        print('SADD pr:users %s' % u)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
