#!/usr/bin/env node
// The OVN lab's "kicker" (ovn.sh kicker start): OVN 23.03's pinctrl thread re-arms its BFD timers
// only after a packet-in, so when every BFD peer is dead it neither transmits nor detects for ~60 s.
// A BFD Control packet with My Discriminator 0 is punted to pinctrl (a packet-in that wakes it)
// and then discarded by its checks (RFC 5880 6.8.6), so it changes no session.
// Usage: ovn-kicker.mjs --pidfile PATH [--interval MS] SRC=DST...
// The pid file is written once every socket is bound, so its presence means "running".
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';

function usage(msg) {
  process.stderr.write(`ovn-kicker: ${msg}\nusage: ovn-kicker.mjs --pidfile PATH [--interval MS] SRC=DST...\n`);
  process.exit(2);
}

const opts = { pidfile: '', interval: 50, pairs: [] };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--pidfile') opts.pidfile = argv[++i] ?? '';
  else if (a === '--interval') opts.interval = Number(argv[++i]);
  else if (a.startsWith('-')) usage(`unknown option ${a}`);
  else {
    const [src, dst] = a.split('=');
    if (!src || !dst || net.isIP(src) === 0 || net.isIP(src) !== net.isIP(dst)) usage(`not SRC=DST of one family: ${a}`);
    opts.pairs.push({ src, dst });
  }
}
if (!opts.pidfile) usage('--pidfile is required');
if (!Number.isInteger(opts.interval) || opts.interval < 1) usage('--interval must be a positive integer (ms)');
if (opts.pairs.length === 0) usage('at least one SRC=DST is required');

// Version 1, state Down, multiplier 3, length 24, My Discriminator 0 (invalid on purpose).
const junk = Buffer.from([0x20, 0x40, 3, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40, 0, 0x0f, 0x42, 0x40, 0, 0, 0, 0]);

const sockets = await Promise.all(opts.pairs.map(({ src, dst }) => new Promise((resolve, reject) => {
  const s = dgram.createSocket(net.isIPv6(src) ? 'udp6' : 'udp4');
  s.once('error', reject);
  s.bind({ address: src, port: 0 }, () => {
    s.setTTL(255);
    s.on('error', (err) => process.stderr.write(`ovn-kicker: ${src} -> ${dst}: ${err.message}\n`));
    resolve({ s, dst });
  });
})));
setInterval(() => {
  for (const { s, dst } of sockets) s.send(junk, 3784, dst);
}, opts.interval);
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
fs.writeFileSync(opts.pidfile, `${process.pid}\n`);
