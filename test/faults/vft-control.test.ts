// Fault injection on the agent's own surfaces (one replica, FRR's bfdd as the BFD peer): its
// control sockets deleted, a control socket path taken over by a file the agent does not own, and
// its config file replaced with garbage followed by SIGHUP. For each: what the agent did (its log),
// that it kept its configuration and sessions (nothing lost, nothing duplicated), and that it ended
// healthy.
import t from 'tap';
import { existsSync, lstatSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt } from '../helpers/dataplane.js';
import { withLab, type LabNode } from '../helpers/lab.js';
import type { AgentStatus, HttpResult } from '../helpers/agent-clients.js';
import { Agent, AgentHome, LOG_ERROR, type LogLine } from '../helpers/agent-process.js';

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

t.setTimeout(180_000);
t.equal(process.getuid?.(), 0, 'fault tests run as root (CI does); not skipping');
await ensureBuilt();

const GW: LabNode = 'gw1';
// The daemon checks its sockets (and expected BFD sessions) on this period (agent/daemon/daemon.ts).
const SOCKET_CHECK_MS = 5000;
const SLACK_MS = 3000;

const home = await AgentHome.create(t, 'vftc');
const lab = await withLab(t, { prefix: 'vftc', replicas: 1 });
await lab.frrUp({ txMs: 100, rxMs: 100, multiplier: 3 });
const info = await lab.info();
const configFile = join(home.dir, 'config.json');
const goodConfig = { reconcileIntervalMs: 1500, drainGraceMs: 2500 };
writeFileSync(configFile, JSON.stringify(goodConfig, null, 2) + '\n');
const agent = await Agent.start(t, lab, home, GW, { env: { EGRESS_AGENT_CONFIG: configFile } });
const fams = [
  { name: 'ipv4', client: info.ipv4!.client!, server: info.ipv4!.server!, net1: info.ipv4!.gateways.gw1!.net1!, local: info.ipv4!.gateways.gw1!.eth0! },
  { name: 'ipv6', client: info.ipv6!.client!, server: info.ipv6!.server!, net1: info.ipv6!.gateways.gw1!.net1! , local: info.ipv6!.gateways.gw1!.eth0! },
] as const;

async function healthy(t: TapTest, when: string): Promise<void> {
  await agent.waitSessionsUp(2);
  for (const f of fams) await lab.frrWait(f.local, 'up', 20);
  await agent.waitReady(true);
  t.equal((await agent.http('/readyz')).status, 200, `${when}: /readyz 200`);
  t.equal((await agent.http('/livez')).status, 200, `${when}: /livez 200`);
  t.equal((await agent.cli(['probe', 'ready'])).exitCode, 0, `${when}: \`probe ready\` over the control socket exits 0`);
  for (const f of fams) t.equal((await lab.curl(f.client, f.server, 'udp')).ip, f.net1, `${when}: ${f.name} traffic SNATed through the replica`);
  t.ok(agent.running(), `${when}: same agent process (pid ${agent.pid})`);
}

const isSocket = (p: string): boolean => existsSync(p) && lstatSync(p).isSocket();
const mode = (p: string): string => (lstatSync(p).mode & 0o777).toString(8);

t.test('control sockets deleted: /livez reports it, the agent re-creates them', async (t) => {
  await healthy(t, 'before');
  const sockets = [agent.paths.socket, agent.paths.compatSocket];
  // Look (/livez and the CLI probe) right after the deletion. The agent's periodic check may
  // re-create the sockets before we looked; then delete them again (the next check is a whole
  // period away). The agent's own log timestamps tell which happened first.
  let seen: { live: HttpResult; probe: number; recreated: LogLine[] } | null = null;
  for (let i = 0; i < 3 && !seen; i++) {
    const mark = agent.mark();
    for (const s of sockets) rmSync(s, { force: true });
    const [live, probe] = await Promise.all([agent.http('/livez'), agent.cli(['probe', 'live'])]);
    const checkedAt = Date.now();
    const recreated = await Promise.all(sockets.map((s) =>
      agent.waitLog((l) => l.msg === 'control socket missing or replaced; re-creating it' && l.socket === s, SOCKET_CHECK_MS + SLACK_MS, mark, `re-creation of ${s}`)));
    // "re-creating" is logged before the new socket is bound: wait for the files before going on.
    await agent.poll(async () => (sockets.every(isSocket) ? true : null), 5000, 'sockets back');
    if (Math.min(...recreated.map((l) => Date.parse(l.time))) > checkedAt) seen = { live, probe: probe.exitCode, recreated };
  }
  t.ok(seen, 'looked between the deletion and the re-creation');
  t.equal(seen!.live.status, 503, '/livez 503 while the sockets are gone');
  for (const s of sockets) t.match(seen!.live.body, s, `/livez names ${s}`);
  t.not(seen!.probe, 0, '`probe live` fails while the socket is gone (kubelet sees it)');
  for (const l of seen!.recreated) t.equal(l.level, 40, `agent logged a warning for ${String(l.socket)}`);
  for (const s of sockets) t.equal(mode(s), '600', `${s} is back, a socket, mode 0600`);
  const st = await agent.cli(['status', '--json']);
  t.equal(st.exitCode, 0, '`egress-agent status --json` works again');
  t.ok((JSON.parse(st.stdout) as AgentStatus).control.every((c) => c.serving), 'status: every control socket serving');
  const compat = await agent.requestRaw('live', {}, 5000, agent.paths.compatSocket);
  t.equal(compat.ok, true, 'the compat (Kube-OVN supervisor) socket answers again');
  await healthy(t, 'after');
});

t.test('control socket path taken by a file the agent does not own: left alone, reported, recovered once it is gone', async (t) => {
  await healthy(t, 'before');
  const mark = agent.mark();
  rmSync(agent.paths.socket);
  writeFileSync(agent.paths.socket, 'not ours\n');
  try {
    const err = await agent.waitLog((l) => l.msg === 'cannot re-create control socket' && l.socket === agent.paths.socket, SOCKET_CHECK_MS + SLACK_MS, mark, 'refusal to replace the file');
    t.match(String(err.err), /is not a socket; refusing to replace it/, `agent refused to touch it: ${String(err.err)}`);
    t.equal(lstatSync(agent.paths.socket).isFile(), true, 'the file is still there, untouched');
    const live = await agent.http('/livez');
    t.equal(live.status, 503, '/livez 503 while the socket cannot be served');
    t.match(live.body, agent.paths.socket, '/livez names the socket');
  } finally {
    rmSync(agent.paths.socket, { force: true });
  }
  const back = agent.mark();
  await agent.waitLog((l) => l.msg === 'control socket missing or replaced; re-creating it' && l.socket === agent.paths.socket, SOCKET_CHECK_MS + SLACK_MS, back, 're-creation after the file went');
  await agent.poll(async () => (isSocket(agent.paths.socket) ? true : null), 5000, 'socket back');
  await healthy(t, 'after');
});

t.test('config file replaced with garbage, then SIGHUP: reload rejected, old config kept, error logged', async (t) => {
  await healthy(t, 'before');
  const before = await agent.status();
  t.equal(before.config!.reconcileIntervalMs, goodConfig.reconcileIntervalMs, 'running with the file\'s reconcile interval');
  t.equal(before.config!.file, configFile, 'status names the config file');
  const sessionsBefore = new Map((await agent.sessions()).map((s) => [s.remote, s]));
  const garbage: { name: string; text: string; error: RegExp }[] = [
    { name: 'not JSON', text: '{"reconcileIntervalMs": 2000,,\u0000\u00ff garbage', error: /malformed JSON/ },
    { name: 'JSON with invalid values', text: JSON.stringify({ reconcileIntervalMs: 5, bfd: { multiplier: 0 } }), error: /reconcileIntervalMs/ },
  ];
  let failures = before.counters.reloadFailures;
  for (const g of garbage) {
    writeFileSync(configFile, g.text);
    const mark = agent.mark();
    agent.signal('SIGHUP');
    const line = await agent.waitLog((l) => /^reload rejected/.test(l.msg), 10_000, mark, `rejection of ${g.name}`);
    const errors = line.errors as string[];
    t.equal(line.level, LOG_ERROR, `${g.name}: logged as an error`);
    t.ok(errors.some((e) => e.includes(configFile) || /config file/.test(e)), `${g.name}: the error names the config file: ${JSON.stringify(errors)}`);
    t.ok(errors.some((e) => g.error.test(e)), `${g.name}: the error says what is wrong: ${JSON.stringify(errors)}`);
    const st = await agent.status();
    failures++;
    t.equal(st.counters.reloadFailures, failures, `${g.name}: counted as a failed reload`);
    t.equal(st.lastReload?.ok, false, `${g.name}: status shows the last reload rejected`);
    t.equal(st.config!.reconcileIntervalMs, goodConfig.reconcileIntervalMs, `${g.name}: the running configuration is unchanged`);
    t.same(agent.logsSince(mark, (l) => /^bfd session (added|removed)$/.test(l.msg)), [], `${g.name}: no BFD session added or removed`);
  }
  // The CLI verb gives the same answer, with a non-zero exit.
  const cli = await agent.cli(['reload']);
  t.equal(cli.exitCode, 1, '`egress-agent reload` exits 1 for a rejected configuration');
  t.match(cli.stdout, /rejected/, `\`reload\` says it was rejected: ${cli.stdout.trim().split('\n')[0]}`);
  for (const s of await agent.sessions()) {
    const b = sessionsBefore.get(s.remote)!;
    t.equal(s.state, 'Up', `${s.remote}: session still Up`);
    t.equal(s.counters.transitions, b.counters.transitions, `${s.remote}: no state transition`);
    t.equal(s.localDiscr, b.localDiscr, `${s.remote}: same session (discriminator ${s.localDiscr})`);
  }
  await healthy(t, 'with garbage on disk');

  // A good file again, with a change: the reload goes through.
  writeFileSync(configFile, JSON.stringify({ ...goodConfig, reconcileIntervalMs: 1200 }) + '\n');
  const mark = agent.mark();
  agent.signal('SIGHUP');
  const ok = await agent.waitLog((l) => l.msg === 'reloaded configuration', 10_000, mark, 'reload of the good file');
  t.same(ok.errors, [], `good file: reloaded without errors (${JSON.stringify(ok.changes)})`);
  const st = await agent.status();
  t.equal(st.lastReload?.ok, true, 'good file: status shows the reload applied');
  t.equal(st.config!.reconcileIntervalMs, 1200, 'good file: the new reconcile interval is in effect');
  await healthy(t, 'after the good reload');
});

t.test('no unexpected error logged', async (t) => {
  // Expected: the two rejected reloads, the refused file, and the CLI's reload of the garbage file.
  const unexpected = agent.lines.filter((l) => l.level >= LOG_ERROR && !/^reload rejected|^cannot re-create control socket$/.test(l.msg));
  t.same(unexpected.map((l) => JSON.stringify(l)), [], 'no other error or fatal log lines');
});
