#!/usr/bin/env node
// Lab "internet" server: answers every TCP connection and every UDP datagram with the peer address
// it saw ("ip port\n"), so tests can tell whether (and to what) a flow was SNATed.
// Usage: echo-server.mjs --pidfile PATH [--port N] ADDR...
// Binds TCP and UDP to each ADDR (specific addresses, not wildcards: UDP replies must leave from the
// address the client sent to, or conntrack on the gateway cannot match them). The pid file is
// written only once every socket listens, so its presence means "ready".
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';

function usage(msg) {
  process.stderr.write(`echo-server: ${msg}\nusage: echo-server.mjs --pidfile PATH [--port N] ADDR...\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { port: 8080, pidfile: '', addrs: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') opts.port = Number(argv[++i]);
    else if (a === '--pidfile') opts.pidfile = argv[++i] ?? '';
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else opts.addrs.push(a);
  }
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) usage('--port must be 1..65535');
  if (!opts.pidfile) usage('--pidfile is required');
  if (opts.addrs.length === 0) usage('at least one ADDR is required');
  for (const a of opts.addrs) if (net.isIP(a) === 0) usage(`not an IP address: ${a}`);
  return opts;
}

const seenAs = (address, port) => `${address.replace(/^::ffff:/, '')} ${port}\n`;

function listenTcp(addr, port) {
  return new Promise((resolve, reject) => {
    const server = net.createServer((sock) => {
      sock.on('error', () => sock.destroy());
      sock.end(seenAs(sock.remoteAddress ?? '', sock.remotePort ?? 0));
    });
    server.once('error', (err) => reject(new Error(`tcp ${addr}:${port}: ${err.message}`)));
    server.listen({ host: addr, port, ipv6Only: net.isIPv6(addr) }, () => resolve(server));
  });
}

function listenUdp(addr, port) {
  return new Promise((resolve, reject) => {
    const sock = net.isIPv6(addr) ? dgram.createSocket({ type: 'udp6', ipv6Only: true }) : dgram.createSocket('udp4');
    sock.on('message', (_msg, rinfo) => {
      sock.send(seenAs(rinfo.address, rinfo.port), rinfo.port, rinfo.address);
    });
    sock.once('error', (err) => reject(new Error(`udp ${addr}:${port}: ${err.message}`)));
    sock.bind(port, addr, () => resolve(sock));
  });
}

const opts = parseArgs(process.argv.slice(2));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
try {
  await Promise.all(opts.addrs.flatMap((a) => [listenTcp(a, opts.port), listenUdp(a, opts.port)]));
} catch (err) {
  process.stderr.write(`echo-server: ${err.message}\n`);
  process.exit(1);
}
const tmp = `${opts.pidfile}.tmp`;
fs.writeFileSync(tmp, `${process.pid}\n`);
fs.renameSync(tmp, opts.pidfile);
process.stdout.write(`echo-server: pid ${process.pid} listening on ${opts.addrs.join(', ')} port ${opts.port} tcp+udp\n`);
