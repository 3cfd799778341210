// Makes the lab's "OVN router" behave like OVN's BFD-gated ECMP: table TABLE's default route in
// namespace NS is a multipath over the replicas whose BFD session (as bfdd logs it) is usable, per
// family; with none usable it becomes a blackhole (Kube-OVN's 29090 drop policy: fail closed).
// OVN counts init and up as usable, down and admin-down not. Runs until SIGTERM.
// usage: ecmp-follow.mjs NS TABLE LOG IFACE PEER=ADDR... (PEER = gw name, ADDR = its eth0 address)
import { openSync, readSync, closeSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

// A trailing `--pidfile PATH` is only there so lab.sh can recognise this process as its own.
const argv = process.argv.slice(2);
const pf = argv.indexOf('--pidfile');
if (pf >= 0) argv.splice(pf, 2);
const [ns, table, log, iface, ...pairs] = argv;
if (!ns || !table || !log || !iface || pairs.length === 0) {
  process.stderr.write('usage: ecmp-follow.mjs NS TABLE LOG IFACE GW=ADDR...\n');
  process.exit(2);
}
const peers = pairs.map((p) => { const [gw, addr] = p.split('='); return { gw, addr, fam: addr.includes(':') ? 6 : 4, usable: false }; });
const re = /state-change: \[([^\]]*)\] (\S+) -> (\S+)/;
let applied = { 4: null, 6: null };

function apply() {
  for (const fam of [4, 6]) {
    const mine = peers.filter((p) => p.fam === fam);
    if (mine.length === 0) continue;
    const up = mine.filter((p) => p.usable).map((p) => p.addr);
    const key = up.join(',');
    if (applied[fam] === key) continue;
    const argv = up.length === 0
      ? ['-n', ns, `-${fam}`, 'route', 'replace', 'blackhole', 'default', 'table', table]
      : ['-n', ns, `-${fam}`, 'route', 'replace', 'default', 'table', table, ...up.flatMap((a) => ['nexthop', 'via', a, 'dev', iface, 'weight', '1'])];
    execFileSync('ip', argv);
    applied[fam] = key;
    process.stdout.write(`${new Date().toISOString()} ipv${fam} nexthops: ${up.join(' ') || '(none: blackhole)'}\n`);
  }
}

let offset = 0;
let partial = '';
function poll() {
  let size;
  try { size = statSync(log).size; } catch { return; }
  if (size < offset) { offset = 0; partial = ''; }
  if (size === offset) return;
  const fd = openSync(log, 'r');
  const buf = Buffer.alloc(size - offset);
  readSync(fd, buf, 0, buf.length, offset);
  closeSync(fd);
  offset = size;
  const lines = (partial + buf.toString('utf8')).split('\n');
  partial = lines.pop() ?? '';
  for (const line of lines) {
    const m = re.exec(line);
    if (!m) continue;
    const peer = /(?:^| )peer:(\S+)/.exec(m[1])?.[1];
    const p = peers.find((x) => x.addr === peer);
    if (p) p.usable = m[3] === 'up' || m[3] === 'init';
  }
  apply();
}

apply();
const timer = setInterval(poll, 10);
process.on('SIGTERM', () => { clearInterval(timer); process.exit(0); });
