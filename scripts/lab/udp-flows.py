#!/usr/bin/env python3
# New UDP flows at a fixed rate, for the SNAT record test and benchmark: one datagram per flow,
# each to its own destination port (a new conntrack entry each), from a few client sockets.
# Flow i goes from sports[floor(i / perSocket)] to dst:basePort + (i % perSocket), paced in 10 ms
# steps. Prints one JSON line: { sent, failed, ms, sports, perSocket, basePort }.
# Python with plain blocking sendto, not Node.js: a Node.js dgram send costs several times more
# CPU per datagram, and on a shared 2-core machine it could not keep 40,000 flows/s.
# Usage: udp-flows.py '{"src":ADDR,"dst":ADDR,"rate":N,"ms":N,"basePort":N}'
import json
import math
import socket
import sys
import time

USAGE = 'usage: udp-flows.py \'{"src":ADDR,"dst":ADDR,"rate":N,"ms":N,"basePort":N}\''

try:
    o = json.loads(sys.argv[1] if len(sys.argv) > 1 else '{}')
except ValueError as e:
    sys.exit(f'udp-flows: the options are not JSON ({e})\n{USAGE}')
for k in ('src', 'dst', 'rate', 'ms', 'basePort'):
    if k not in o:
        sys.exit(f'udp-flows: option {k} missing\n{USAGE}')

per_socket = min(65535 - o['basePort'] + 1, 50000)
total = math.ceil(o['rate'] * o['ms'] / 1000)
family = socket.AF_INET6 if ':' in o['dst'] else socket.AF_INET
sockets = []
for _ in range(math.ceil(total / per_socket)):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((o['src'], 0))
    sockets.append(s)

sent = failed = queued = 0
t0 = time.monotonic()
while queued < total:
    due = min(total, int((time.monotonic() - t0) * o['rate']))
    while queued < due:
        try:
            sockets[queued // per_socket].sendto(b'x', (o['dst'], o['basePort'] + queued % per_socket))
            sent += 1
        except OSError:
            failed += 1
        queued += 1
    time.sleep(0.01)
ms = round((time.monotonic() - t0) * 1000)
sports = [s.getsockname()[1] for s in sockets]
for s in sockets:
    s.close()
print(json.dumps({'sent': sent, 'failed': failed, 'ms': ms, 'sports': sports, 'perSocket': per_socket, 'basePort': o['basePort']}))
