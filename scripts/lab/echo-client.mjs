#!/usr/bin/env node
// Lab client for echo-server.mjs: connects (tcp) or sends one datagram (udp) from SRC to DST and
// prints the server's answer ("ip port" as the server saw it). Exits 1 on error or after 2 s.
// Usage: echo-client.mjs SRC DST [tcp|udp] [PORT]
import dgram from 'node:dgram';
import net from 'node:net';

const TIMEOUT_MS = 2000;
const [src, dst, proto = 'tcp', portArg = '8080'] = process.argv.slice(2);
const port = Number(portArg);

function fail(msg, code = 1) {
  process.stderr.write(`echo-client: ${msg}\n`);
  process.exit(code);
}

if (!src || !dst) fail('usage: echo-client.mjs SRC DST [tcp|udp] [PORT]', 2);
if (net.isIP(src) === 0) fail(`SRC is not an IP address: ${src}`, 2);
if (net.isIP(dst) === 0) fail(`DST is not an IP address: ${dst}`, 2);
if (net.isIP(src) !== net.isIP(dst)) fail(`SRC ${src} and DST ${dst} are of different families`, 2);
if (proto !== 'tcp' && proto !== 'udp') fail(`PROTO must be tcp or udp, got ${proto}`, 2);
if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`PORT must be 1..65535, got ${portArg}`, 2);

const flow = `${proto} ${src} -> [${dst}]:${port}`;
const timer = setTimeout(() => fail(`timeout after ${TIMEOUT_MS} ms: ${flow}`), TIMEOUT_MS);

function done(reply) {
  clearTimeout(timer);
  const line = reply.split('\n')[0].trim();
  if (!line) fail(`empty reply: ${flow}`);
  process.stdout.write(`${line}\n`);
  process.exit(0);
}

if (proto === 'tcp') {
  let buf = '';
  const sock = net.connect({ host: dst, port, localAddress: src });
  sock.setEncoding('utf8');
  sock.on('data', (d) => {
    buf += d;
    if (buf.includes('\n')) done(buf);
  });
  sock.on('end', () => done(buf));
  sock.on('error', (err) => fail(`${err.message}: ${flow}`));
} else {
  const sock = dgram.createSocket(net.isIPv6(dst) ? 'udp6' : 'udp4');
  sock.on('message', (msg) => done(msg.toString('utf8')));
  sock.on('error', (err) => fail(`${err.message}: ${flow}`));
  sock.bind({ address: src, port: 0 }, () => sock.send('ping\n', port, dst));
}
