import t from 'tap';
import { findEventSocket, parseSsReceiveBuffer } from '../../agent/snat/event-socket.js';

// Captured in a gateway namespace with `conntrack -E -e NEW -o xml,id --buffer-size 8388608` running:
// its query socket (port 3346, groups 0) got the 16 MiB buffer, its event socket (random port,
// group 1) kept rmem_default.
const PROC_NET_NETLINK = `sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
00000000d17d9272 0   0          00000000 0        0        0     2        0        111126
000000001b12a1a2 12  0          00000000 0        0        0     2        0        111133
000000001e770e3e 12  2489818345 00000001 4352     0        0     2        170      243624
00000000bb66ca04 12  3346       00000000 0        0        0     2        0        243623
`;

const SS = `State  Recv-Q Send-Q Local Address:Port            Peer Address:PortProcess
UNCONN 0      0               rtnl:kernel                      *    	 skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)
UNCONN 0      0                nft:kernel                     *    	 skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)
UNCONN 0      0                nft:-1805148951                *    	 skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)
UNCONN 0      0                nft:conntrack/3346             *    	 skmem:(r0,rb16777216,t0,tb212992,f0,w0,o0,bl0,d0)
`;

t.test('finds the event socket (netfilter, with groups) among the process sockets', async (t) => {
  t.same(findEventSocket(PROC_NET_NETLINK, new Set([243623, 243624])), { portid: -1805148951, inode: 243624, rmem: 4352, drops: 170 });
  t.equal(findEventSocket(PROC_NET_NETLINK, new Set([243623])), undefined, 'the query socket has no groups');
  t.equal(findEventSocket(PROC_NET_NETLINK, new Set([111133])), undefined);
  t.equal(findEventSocket('', new Set([1])), undefined);
});

t.test('the receive buffer of a port from ss', async (t) => {
  t.equal(parseSsReceiveBuffer(SS, -1805148951), 212992);
  t.equal(parseSsReceiveBuffer(SS, 12345), undefined);
});
