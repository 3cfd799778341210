// A burst of rtnetlink notifications larger than the listener's receive queue (another agent, a CNI
// or a routing daemon changing tens of thousands of routes in a table we do not own) while the
// agent's event loop is stalled. The kernel drops notifications and flags ENOBUFS; with the
// `netlink` npm package this aborted the process (SIGABRT, "terminate called after throwing an
// instance of 'Napi::Error'"). Asserted here, on the real kernel: the agent survives, logs the
// overflow once as a resync, counts it, and a change made after the burst is still seen and
// repaired through a notification (the periodic pass is pushed out to an hour).
import t from 'tap';
import { withLab, type Lab } from '../helpers/lab.js';
import { AgentProcess, ensureBuilt, type LogLine } from '../helpers/dataplane.js';
import { parseProcNetNetlink, type ProcNetlinkSocket } from '../../agent/lib/proc-net-netlink.js';
import { RECEIVE_BUFFER_BYTES } from '../../agent/dataplane/rtnl-multicast.js';

t.setTimeout(180_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');

/** Route changes per flood round: each round adds and then deletes this many routes (2x notifications). */
const ROUTES_PER_ROUND = 25_000;
/** A queued route notification takes ~830 bytes: 2 x 25,000 of them overflow the 32 MiB queue in one round. */
const MAX_ROUNDS = 4;
const FOREIGN_TABLE = '4000';

async function netlinkSocket(lab: Lab, portId: number): Promise<ProcNetlinkSocket> {
  const { stdout } = await lab.exec('gw1', ['cat', '/proc/net/netlink']);
  const s = parseProcNetNetlink(String(stdout)).find((x) => x.protocol === 0 && x.portid === portId);
  if (!s) throw new Error(`no rtnetlink socket with port id ${portId} in /proc/net/netlink:\n${String(stdout)}`);
  return s;
}

/** Adds and deletes ROUTES_PER_ROUND blackhole routes in a table the agent does not own, in two `ip -batch` runs. */
async function floodRound(lab: Lab, round: number): Promise<void> {
  const dsts = Array.from({ length: ROUTES_PER_ROUND }, (_, i) => `10.${100 + round}.${i >> 8}.${i & 255}/32`);
  for (const op of ['add', 'del']) {
    await lab.exec('gw1', ['ip', '-4', '-batch', '-'], { input: dsts.map((d) => `route ${op} blackhole ${d} table ${FOREIGN_TABLE}\n`).join('') });
  }
}

/** Polls until `cond` holds; throws with `what` after timeoutMs. */
async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T>, cond: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (cond(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const isResync = (l: LogLine): boolean => l.msg === 'netlink notifications lost; full resync';

t.test('a notification flood overflows the listener: the agent survives, resyncs, and still repairs from notifications', async (t) => {
  const lab = await withLab(t, { prefix: 'vno', replicas: 1, family: '4' });
  await ensureBuilt();
  const env = { ...(await lab.env('gw1')), EGRESS_AGENT_RECONCILE_INTERVAL_MS: '3600000' };
  const agent = new AgentProcess(lab, 'gw1', env);
  t.teardown(() => agent.stop());
  await agent.waitFor((l) => l.msg === 'reconciler started', 30_000);

  const listening = agent.lines.find((l) => l.msg === 'listening for netlink changes');
  t.ok(listening, 'the listener logs its socket');
  const portId = listening!.portId as number;
  t.equal(listening!.receiveBufferBytes, 2 * RECEIVE_BUFFER_BYTES, 'root (CAP_NET_ADMIN): SO_RCVBUFFORCE gave the full buffer, past net.core.rmem_max');
  const before = await netlinkSocket(lab, portId);
  t.equal(before.drops, 0, 'no drops before the flood');

  // A stalled event loop (a long GC pause, a CPU-throttled Pod) during the burst: SIGSTOP.
  const started = Date.now();
  process.kill(agent.pid, 'SIGSTOP');
  let rounds = 0;
  let stalled: ProcNetlinkSocket;
  try {
    do {
      await floodRound(lab, rounds++);
      stalled = await netlinkSocket(lab, portId);
    } while (stalled.drops === 0 && rounds < MAX_ROUNDS);
  } finally {
    process.kill(agent.pid, 'SIGCONT');
  }
  t.ok(stalled.drops > 0, `the kernel dropped ${stalled.drops} notifications for the agent (queue ${stalled.rmem} bytes, ${rounds} round(s) of ${2 * ROUTES_PER_ROUND})`);

  const resync = await agent.waitFor(isResync, 30_000);
  t.match(resync.reason, /^ENOBUFS: the \d+-byte receive queue overflowed \(\d+x\), notifications lost$/, 'the resync names the overflow');
  t.ok((resync.overflows as number) >= 1, `the overflow is counted (${String(resync.overflows)})`);
  // The queue drains: reading went on after the overflow.
  await until('the agent drains its queue', 30_000, () => netlinkSocket(lab, portId), (s) => s.rmem === 0);
  // The passes the flood and the resync triggered are over once the log is quiet (debounce 100 ms).
  await until('the agent settles after the flood', 30_000, async () => {
    const n = agent.lines.length;
    await new Promise((r) => setTimeout(r, 1000));
    return agent.lines.length - n;
  }, (added) => added === 0);
  t.comment(`flood, overflow, drain and settle took ${Date.now() - started} ms`);

  const mark = agent.lines.length;
  await lab.exec('gw1', ['ip', '-4', 'route', 'del', 'default', 'table', '1000']);
  const repair = await agent.waitFor((l) => l.msg === 'dataplane drift repaired' && (l.drift ?? []).some((d) => d.kind === 'route' && d.problem === 'missing'), 5000, mark);
  t.equal(repair.trigger, 'netlink', 'the deletion after the flood arrived as a notification and was repaired');
  t.same(repair.remaining, []);
  t.match(String((await lab.exec('gw1', ['ip', '-4', 'route', 'show', 'table', '1000'])).stdout), /^default via /, 'table 1000 default route back');

  t.equal(agent.lines.filter(isResync).length, 1, 'one resync log line for the burst');
  t.equal(agent.exit, null, 'the agent is still running');
  t.notMatch(agent.stderr, /terminate called|Aborted|Error/, 'nothing on stderr');
});
