// The native control-socket clients (native/probe): egress-agent-probe, kube-ovn-bfdd-supervisor
// (live/ready/status) and bfdd-control, against a scripted Unix socket server: what they send,
// how they read the reply, their exit codes and their deadline.
import t, { type Test } from 'tap';
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
await execa('make', ['probe'], { cwd: ROOT });
const OUT = join(ROOT, 'native/out');
const dir = mkdtempSync(join(tmpdir(), 'vdm-native-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A server that records each request line and answers with reply(line) (or never, if null). */
async function server(t: Test, reply: (line: string) => string | null) {
  const path = join(dir, `s${++n}.sock`);
  const seen: string[] = [];
  const srv: Server = createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      seen.push(line);
      const r = reply(line);
      if (r !== null) sock.end(r);
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(path, r));
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  return { path, seen };
}

const run = (bin: string, args: string[], env: Record<string, string> = {}) =>
  execa(join(OUT, bin), args, { reject: false, env, extendEnv: false, stripFinalNewline: false, timeout: 20_000 });

const statusJson = '{"Live":true,"Ready":false,"Sessions":[{"Pair":{"Local":"10.16.0.12","Remote":"10.255.255.255"},"State":"Up"}],"LastControlError":"a \\"quoted\\" }"}';

t.test('egress-agent-probe: exit 0 on a reply without error, 1 with the reason otherwise', async (t) => {
  const ok = await server(t, () => `{"status":${statusJson}}\n`);
  const live = await run('egress-agent-probe', ['live', '--socket', ok.path]);
  t.same([live.exitCode, live.stdout, live.stderr], [0, 'live\n', '']);
  t.same(ok.seen, ['live'], 'one plain-text request line');
  const bad = await server(t, () => `{"status":${statusJson},"error":"not ready: BFD 10.16.0.12 -> 10.255.255.255 is Down \\u2013 x"}\n`);
  const ready = await run('egress-agent-probe', ['ready', '--socket', bad.path]);
  t.same([ready.exitCode, ready.stderr], [1, 'not ready: BFD 10.16.0.12 -> 10.255.255.255 is Down \u2013 x\n']);
  t.equal((await run('egress-agent-probe', ['ready', '--socket', bad.path, '--quiet'])).stderr, '', '--quiet');
  const env = await run('egress-agent-probe', ['live'], { EGRESS_AGENT_SOCKET: ok.path });
  t.equal(env.exitCode, 0, 'socket from EGRESS_AGENT_SOCKET');
  const garbage = await server(t, () => 'HTTP/1.1 400\n');
  t.equal((await run('egress-agent-probe', ['live', '--socket', garbage.path])).exitCode, 1, 'an unexpected reply is a failure');
  t.equal((await run('egress-agent-probe', ['maybe'])).exitCode, 2, 'usage error');
  t.match((await run('egress-agent-probe', ['live', '--timeout', '0'])).stderr, /--timeout must be 1\.\.3600000 ms/);
});

t.test('egress-agent-probe keeps its deadline when the agent does not answer', async (t) => {
  const mute = await server(t, () => null);
  const t0 = Date.now();
  const r = await run('egress-agent-probe', ['live', '--socket', mute.path, '--timeout', '300']);
  const took = Date.now() - t0;
  t.equal(r.exitCode, 1);
  t.match(r.stderr, 'did not answer in time');
  t.ok(took < 300 + 1500, `gave up after ${took} ms (timeout 300 ms)`);
  const none = await run('egress-agent-probe', ['live', '--socket', join(dir, 'none.sock'), '--wait', '--timeout', '300']);
  t.same([none.exitCode, none.stderr], [3, `egress-agent-probe: no agent is listening on ${join(dir, 'none.sock')}: is egress-agent run running?\n`]);
});

t.test('kube-ovn-bfdd-supervisor live|ready|status speak Kube-OVN\'s protocol', async (t) => {
  const ok = await server(t, () => `{"status":${statusJson}}\n`);
  const env = { BFDD_SUPERVISOR_SOCKET: ok.path };
  const status = await run('kube-ovn-bfdd-supervisor', ['status'], env);
  t.same([status.exitCode, status.stdout], [0, `${statusJson}\n`], 'status prints the inner status JSON, one line');
  t.same((await run('kube-ovn-bfdd-supervisor', ['live'], env)).stdout, '', 'live prints nothing on success');
  t.same(ok.seen, ['status', 'live']);
  const failing = await server(t, () => `{"status":${statusJson},"error":"not live: the BFD engine thread is not running"}\n`);
  const live = await run('kube-ovn-bfdd-supervisor', ['live'], { BFDD_SUPERVISOR_SOCKET: failing.path });
  t.same([live.exitCode, live.stderr], [1, 'BFD supervisor failed: not live: the BFD engine thread is not running\n']);
  t.equal((await run('kube-ovn-bfdd-supervisor', ['bogus'])).exitCode, 1);
  t.equal((await run('kube-ovn-bfdd-supervisor', [])).exitCode, 1);
});

t.test('bfdd-control: arguments as a JSON array, the reply text verbatim, the agent\'s exit code', async (t) => {
  const srv = await server(t, (line) => {
    const req = JSON.parse(line) as { args: string[] };
    const bad = req.args[0] === 'bogus';
    return JSON.stringify({ v: 1, id: 1, ok: true, result: { text: bad ? 'Unknown command <bogus>\n' : 'There are 0 sessions:\n\u00e9\n', exitCode: bad ? 1 : 0 } }) + '\n';
  });
  const env = { EGRESS_AGENT_SOCKET: srv.path };
  const r = await run('bfdd-control', ['status'], env);
  t.same([r.exitCode, r.stdout], [0, 'There are 0 sessions:\n\u00e9\n']);
  const b = await run('bfdd-control', ['bogus'], env);
  t.same([b.exitCode, b.stdout], [1, 'Unknown command <bogus>\n']);
  const odd = ['session', 'local', 'a"b\\c', '\u00e9\t'];
  await run('bfdd-control', odd, env);
  t.same(JSON.parse(srv.seen.at(-1)!), { v: 1, id: 1, cmd: 'compat.bfddControl', args: odd }, 'arguments escaped exactly');
  const refusing = await server(t, () => '{"v":1,"id":1,"ok":false,"error":"BFD is disabled in this agent\'s configuration"}\n');
  const e = await run('bfdd-control', ['status'], { EGRESS_AGENT_SOCKET: refusing.path });
  t.same([e.exitCode, e.stderr], [1, 'Unable to complete request: BFD is disabled in this agent\'s configuration\n']);
  const none = await run('bfdd-control', ['status'], { EGRESS_AGENT_SOCKET: join(dir, 'none.sock') });
  t.equal(none.exitCode, 1);
  t.match(none.stderr, 'no agent is listening on');
});

t.test('bfdd-prestart.sh (G1/G2 one-shot startup probe): passes while the agent is still starting, fails when it says no', async (t) => {
  const script = join(ROOT, 'scripts/kube-ovn/bfdd-prestart.sh');
  const env = (socket: string) => ({ PATH: `${OUT}:/usr/bin:/bin`, EGRESS_AGENT_SOCKET: socket, BFDD_PRESTART_TIMEOUT_MS: '200' });
  const starting = await execa('bash', [script], { reject: false, env: env(join(dir, 'none.sock')), extendEnv: false });
  t.equal(starting.exitCode, 0);
  t.match(starting.stderr, 'egress-agent is still starting; the liveness probe takes over');
  const no = await server(t, () => '{"status":{},"error":"not live: the BFD engine thread is not running"}\n');
  t.equal((await execa('bash', [script], { reject: false, env: env(no.path), extendEnv: false })).exitCode, 1);
  const yes = await server(t, () => '{"status":{}}\n');
  t.equal((await execa('bash', [script], { reject: false, env: env(yes.path), extendEnv: false })).exitCode, 0);
});
