#!/usr/bin/env node
// New UDP flows at a fixed rate, for the SNAT record test and benchmark: one datagram per flow,
// each to its own destination port (a new conntrack entry each), from a few client sockets.
// Flow i goes from sports[floor(i / perSocket)] to dst:basePort + (i % perSocket), paced in 10 ms
// steps. Prints one JSON line: { sent, failed, ms, sports, perSocket, basePort }.
// Usage: udp-flows.mjs '{"src":ADDR,"dst":ADDR,"rate":N,"ms":N,"basePort":N}'
import dgram from 'node:dgram';
import net from 'node:net';

const o = JSON.parse(process.argv[2] ?? '{}');
for (const k of ['src', 'dst', 'rate', 'ms', 'basePort']) {
  if (o[k] === undefined) {
    process.stderr.write(`udp-flows: option ${k} missing\nusage: udp-flows.mjs '{"src":ADDR,"dst":ADDR,"rate":N,"ms":N,"basePort":N}'\n`);
    process.exit(2);
  }
}
const perSocket = 65535 - o.basePort + 1 < 50000 ? 65535 - o.basePort + 1 : 50000;
const total = Math.ceil((o.rate * o.ms) / 1000);
const sockets = [];
for (let i = 0; i * perSocket < total; i++) {
  const s = dgram.createSocket(net.isIPv6(o.dst) ? 'udp6' : 'udp4');
  await new Promise((r) => s.bind({ address: o.src, port: 0 }, r));
  sockets.push(s);
}
const payload = Buffer.from('x');
let sent = 0, failed = 0, queued = 0;
const t0 = Date.now();
while (queued < total) {
  const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000) * o.rate));
  for (; queued < due; queued++) {
    const s = sockets[Math.floor(queued / perSocket)];
    s.send(payload, o.basePort + (queued % perSocket), o.dst, (err) => (err ? failed++ : sent++));
  }
  await new Promise((r) => setTimeout(r, 10));
}
while (sent + failed < total) await new Promise((r) => setTimeout(r, 10));
const ms = Date.now() - t0;
const sports = sockets.map((s) => s.address().port);
for (const s of sockets) s.close();
process.stdout.write(JSON.stringify({ sent, failed, ms, sports, perSocket, basePort: o.basePort }) + '\n');
