// The init -> bfdd hand-off, as Kube-OVN runs the two containers: `init` as root with the gateway
// variables writes the hand-off into a root-owned mode-1777 directory (the bfdd-supervisor-state
// emptyDir after the controller's chmod); then `run` as uid 65534 with only BFD's variables adopts
// it and repairs drift (rule 1002 deleted, table 1000 flushed), with BFD Up against FRR.
//
// Capabilities: in the Pod, the bounding set is NET_ADMIN, NET_BIND_SERVICE, NET_RAW and nothing is
// effective or ambient; node and iptables get NET_ADMIN/NET_RAW from the image's file capabilities.
// From the checkout node has no file capabilities, so here the process gets ambient NET_ADMIN and
// NET_RAW instead, which stands in for them (helper A2's container e2e covers the real image), and
// /proc/sys is mounted read-only as in a non-privileged container.
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { request } from '../../agent/control/client.js';
import type { AgentStatus } from '../../agent/status/types.js';
import { AGENT_BIN } from '../helpers/agent-paths.js';
import { ensureBuilt, runInit, type LogLine } from '../helpers/dataplane.js';
import { withLab } from '../helpers/lab.js';
import { LogWaiters } from '../helpers/log-waiters.js';

t.setTimeout(240_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');
await ensureBuilt();

const NOBODY = 65534;
const lab = await withLab(t, { prefix: 'vho', replicas: 1, family: 'dual' });
await lab.frrUp({ txMs: 100, rxMs: 100, multiplier: 3 });
const env = await lab.env('gw1');
const GATEWAY_VARS = /^(INTERNAL_GATEWAY|EXTERNAL_GATEWAY|NO_SNAT_SOURCES)_IPV[46]$/;
const initEnv = Object.fromEntries(Object.entries(env).filter(([k]) => GATEWAY_VARS.test(k)));
const bfddEnv = Object.fromEntries(Object.entries(env).filter(([k]) => /^(POD_IPS|BFD_PEER_IPS|BFD_MIN_TX|BFD_MIN_RX|BFD_MULTI)$/.test(k)));
t.ok(Object.keys(initEnv).length >= 4 && Object.keys(bfddEnv).length >= 2, 'the lab gives both containers their variables');

// The emptyDir: root-owned, 1777. The agent's own files: a directory uid 65534 owns.
const state = mkdtempSync('/tmp/vho-state-');
chmodSync(state, 0o1777);
const own = mkdtempSync('/tmp/vho-own-');
chownSync(own, NOBODY, NOBODY);
t.teardown(() => {
  rmSync(state, { recursive: true, force: true });
  rmSync(own, { recursive: true, force: true });
});
const handoff = join(state, 'egress-agent-handoff.json');

t.test('init as root writes the hand-off: root-owned, 0644, no secrets', async (t) => {
  const r = await runInit(lab, 'gw1', { ...initEnv, EGRESS_AGENT_HANDOFF: handoff });
  t.equal(r.exitCode, 0, `init exit 0: ${r.stderr}`);
  const st = statSync(handoff);
  t.equal(st.uid, 0, 'owned by root: in the sticky directory uid 65534 cannot replace it');
  t.equal(st.mode & 0o777, 0o644, 'readable by uid 65534, writable only by root');
  const h = JSON.parse(readFileSync(handoff, 'utf8'));
  t.match(h, { schema: 'egress-agent.handoff/v1', revision: /^[0-9a-f]{12}$/, applied: { verified: true } });
  t.equal(h.settings['ipv4.internalGateway'], initEnv.INTERNAL_GATEWAY_IPV4);
  t.notOk(JSON.stringify(h).match(/auth|key/i), 'nothing key-like in it');
  t.same(JSON.parse(r.stdout).handoff, handoff, 'init reports where it left it');
});

t.test('run as uid 65534 with only BFD variables adopts it and repairs drift', async (t) => {
  const log = new LogWaiters<LogLine>();
  // /proc/sys read-only, as a non-privileged container mounts it (with CAP_NET_ADMIN the kernel
  // would otherwise let uid 65534 write its own netns's net.* sysctls).
  const child = spawn('ip', ['netns', 'exec', lab.ns('gw1'), 'unshare', '--mount', '--',
    'sh', '-c', 'mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec "$@"', 'sh',
    'setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups',
    // Stand-in for the image's file capabilities (see the header); bounding set as CRI gives it.
    '--inh-caps=-all,+net_admin,+net_raw', '--ambient-caps=-all,+net_admin,+net_raw', '--bounding-set=-all,+net_admin,+net_bind_service,+net_raw',
    '--', AGENT_BIN, 'run'], {
    env: {
      PATH: process.env.PATH!,
      ...bfddEnv,
      BFD_MIN_TX: '100', BFD_MIN_RX: '100', BFD_MULTI: '3',
      EGRESS_AGENT_HANDOFF: handoff,
      EGRESS_AGENT_ALLOW_NO_FAMILIES: 'true', // as the image's kube-ovn-bfdd-supervisor sets it
      EGRESS_AGENT_SOCKET: join(own, 'control.sock'),
      EGRESS_AGENT_COMPAT_SOCKET: join(own, 'compat.sock'),
      EGRESS_AGENT_BFD_STATE_PATH: join(own, 'bfd-state.json'),
      EGRESS_AGENT_SNAT_RECORDS_DIR: join(own, 'snat'),
      EGRESS_AGENT_HEALTH_LISTEN: '127.0.0.1:10669',
      EGRESS_AGENT_RECONCILE_INTERVAL_MS: '1000',
      EGRESS_AGENT_LOG_LEVEL: 'debug',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    log.end(() => new Error(`the agent exited (${code}); ${stderr.slice(-3000)}`));
    resolve(code);
  }));
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  });
  createInterface({ input: child.stderr! }).on('line', (text) => {
    try {
      log.push(JSON.parse(text) as LogLine);
    } catch {
      stderr += `${text}\n`;
    }
  });
  const wait = (pred: (l: LogLine) => boolean, ms: number, from = 0) => log.wait(pred, ms, from, () => new Error(`no matching log line in ${ms} ms; ${stderr.slice(-2000)}`));
  await wait((l) => l.msg === 'agent started', 60_000);
  const adopted = log.lines.find((l) => /adopted from the init container's hand-off/.test(l.msg));
  t.ok(adopted, 'the log says the gateway settings came from the hand-off');

  const sock = join(own, 'control.sock');
  const status = (await request(sock, 'status')) as AgentStatus;
  t.equal(status.config?.gatewaySource, 'handoff', '/status: gatewaySource handoff');
  t.match(status.config?.handoff, { path: handoff, adopted: true, revision: /^[0-9a-f]{12}$/ });
  t.same(status.config?.families, [4, 6], 'both families managed by the bfdd container');
  t.ok(status.dataplane?.verified, 'dataplane verified as uid 65534');
  t.equal(status.upstream?.off, null, 'upstream health runs');
  t.equal(status.snatRecords?.off, null, 'SNAT records run');

  for (const peer of [env.POD_IPS!.split(',')[0]!, env.POD_IPS!.split(',')[1]!]) await lab.frrWait(peer, 'up', 20);
  t.pass('BFD Up with FRR');

  const mark = log.lines.length;
  await lab.exec('gw1', ['ip', '-4', 'rule', 'del', 'priority', '1002']);
  await lab.exec('gw1', ['ip', '-4', 'route', 'flush', 'table', '1000']);
  const repaired = (l: LogLine) => l.msg === 'dataplane drift repaired' && (l.drift ?? []).some((d) => d.object === 'rule 1002');
  const line = await wait(repaired, 10_000, mark).catch((err: Error) => {
    t.comment(JSON.stringify(log.lines.slice(mark).filter((l) => /dataplane/.test(l.msg))).slice(0, 3000));
    throw err;
  });
  t.ok(line, 'rule 1002 and table 1000 repaired by uid 65534');
  await wait((l) => l.msg === 'dataplane drift repaired' && (l.drift ?? []).some((d) => d.kind === 'route'), 10_000, mark);
  t.match((await lab.exec('gw1', ['ip', '-4', 'rule', 'show', 'priority', '1002'])).stdout, /1002:\s+from all iif \S+ lookup 1000/);
  t.match((await lab.exec('gw1', ['ip', '-4', 'route', 'show', 'table', '1000'])).stdout, /default via/);

  // A sysctl it cannot write: reported as such, the agent keeps running.
  const m2 = log.lines.length;
  await lab.exec('gw1', ['sysctl', '-qw', 'net.ipv4.ip_forward=0']);
  const refused = await wait((l) => typeof l.error === 'string' && /ip_forward=1: EROFS: \/proc\/sys is not writable by this process/.test(l.error), 15_000, m2);
  t.ok(refused, 'sysctl drift is reported as not repairable here');
  t.equal(child.exitCode, null, 'still running');
  await lab.exec('gw1', ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);

  child.kill('SIGTERM');
  t.equal(await exited, 0, 'drains and exits 0');
});

t.test('a hand-off from another schema is an error naming the file', async (t) => {
  const bad = join(state, 'other.json');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(bad, JSON.stringify({ schema: 'egress-agent.handoff/v0', settings: {} }), { mode: 0o644 });
  mkdirSync(join(own, 'bad'), { recursive: true });
  const r = await (await import('execa')).execa('ip', ['netns', 'exec', lab.ns('gw1'), AGENT_BIN, 'run'], {
    env: { PATH: process.env.PATH!, ...bfddEnv, EGRESS_AGENT_HANDOFF: bad, EGRESS_AGENT_ALLOW_NO_FAMILIES: 'true', EGRESS_AGENT_SOCKET: join(own, 'bad', 'c.sock'), EGRESS_AGENT_COMPAT_SOCKET: join(own, 'bad', 'cc.sock'), EGRESS_AGENT_BFD_STATE_PATH: join(own, 'bad', 's.json') },
    extendEnv: false, reject: false, timeout: 30_000,
  });
  t.equal(r.exitCode, 2, 'exit 2 (bad input)');
  t.match(String(r.stderr), new RegExp(`hand-off ${bad}.*schema "egress-agent.handoff/v0" is not "egress-agent.handoff/v1"`));
});
