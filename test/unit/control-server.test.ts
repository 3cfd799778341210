// Control socket server, protocol and client: framing, versioning, errors people can act on.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeConnectError, probe, request } from '../../agent/control/client.js';
import { createControlHandler, type AgentControl } from '../../agent/control/commands.js';
import { parseRequest } from '../../agent/control/protocol.js';
import { NoSuchSessionError } from '../../agent/daemon/bfd-sessions.js';
import { ControlServer, type ControlHandler } from '../../agent/control/server.js';
import { prepareSocketPath } from '../../agent/control/socket-file.js';
import { memoryLogger } from '../helpers/daemon-fakes.js';

const handler: ControlHandler = {
  async command(req) {
    if (req.cmd === 'status') return { echo: req.id };
    if (req.cmd === 'reload') throw new Error('file /x: not JSON');
    return null;
  },
  text: (line) => JSON.stringify({ status: {}, ...(line === 'live' ? {} : { error: `said ${line}` }) }) + '\n',
};

async function server(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'vdm-ctl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'sub', 'control.sock');
  const s = new ControlServer(path, handler, memoryLogger().log);
  await s.start();
  t.teardown(() => s.close());
  return { s, path, dir };
}

/** Writes raw text and collects everything until the server closes or `lines` lines arrived. */
function raw(path: string, text: string, lines: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const c = connect(path, () => c.write(text));
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      if (buf.split('\n').length - 1 >= lines) c.end();
    });
    c.on('close', () => resolve(buf.split('\n').filter(Boolean)));
    c.on('error', reject);
  });
}

t.test('socket file: parent created 0700, socket 0600', async (t) => {
  const { path, s } = await server(t);
  t.equal(statSync(join(path, '..')).mode & 0o777, 0o700);
  t.equal(statSync(path).mode & 0o777, 0o600);
  t.ok(s.serving());
});

t.test('line-delimited JSON, several requests on one connection, answered in order', async (t) => {
  const { path } = await server(t);
  const out = await raw(path, '{"v":1,"id":1,"cmd":"status"}\n{"v":1,"id":"two","cmd":"reload"}\n{"v":1,"id":3,"cmd":"status"}\n', 3);
  t.same(out.map((l) => JSON.parse(l)), [
    { v: 1, id: 1, ok: true, result: { echo: 1 } },
    { v: 1, id: 'two', ok: false, error: 'file /x: not JSON', code: 'FAILED' },
    { v: 1, id: 3, ok: true, result: { echo: 3 } },
  ]);
});

t.test('plain-text probe requests: one reply line, then the server closes', async (t) => {
  const { path } = await server(t);
  t.same(await raw(path, 'live\n', 99), ['{"status":{}}']);
  t.same(await raw(path, 'ready\nstatus\n', 99), ['{"status":{},"error":"said ready"}'], 'only the first line counts');
  t.same(await probe(path, 'ready'), { status: {}, error: 'said ready' });
});

t.test('protocol errors name the problem', async (t) => {
  t.same(parseRequest('nope'), { ok: false, error: 'request is not valid JSON: Unexpected token \'o\', "nope" is not valid JSON', code: 'BAD_REQUEST' });
  t.same(parseRequest('[1]'), { ok: false, error: 'request must be a JSON object', code: 'BAD_REQUEST' });
  t.match(parseRequest('{"v":2,"id":5,"cmd":"status"}'), { ok: false, id: 5, error: 'unsupported protocol version 2 (this agent speaks v1)', code: 'UNSUPPORTED_VERSION' });
  t.match(parseRequest('{"v":1,"cmd":"rm -rf"}'), { ok: false, error: /^unknown command "rm -rf"; known: status, /, code: 'UNKNOWN_COMMAND' });
  const { path } = await server(t);
  const long = await raw(path, '{' + 'x'.repeat(70 * 1024), 1);
  t.match(JSON.parse(long[0]!), { ok: false, error: 'request line longer than 65536 bytes', code: 'BAD_REQUEST' });
});

t.test('client: results, agent errors, and what to do when there is no agent', async (t) => {
  const { path, dir } = await server(t);
  t.same(await request(path, 'status'), { echo: 1 });
  await t.rejects(request(path, 'reload'), { message: 'file /x: not JSON', code: 'FAILED' });
  const missing = join(dir, 'none.sock');
  await t.rejects(request(missing, 'status'), { message: `no agent is listening on ${missing}: is egress-agent run running?` });
  const stale = join(dir, 'stale.sock');
  spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  await t.rejects(request(stale, 'status'), { message: `no agent is listening on ${stale}: is egress-agent run running?` }, 'ECONNREFUSED on a stale socket');
  const uid = statSync(path).uid;
  const e = describeConnectError(path, Object.assign(new Error('connect EACCES'), { code: 'EACCES' }));
  t.match(e.message, `permission denied on ${path}: the socket is mode 0600 owned by uid ${uid}; run as that user (you are uid `);
});

t.test('replies carry a code for programs: decided on the error\'s type, never its text', async (t) => {
  // The real command table over a real socket, with an agent whose session lookups all miss.
  const agent = {
    adminDown: () => { throw new NoSuchSessionError('no BFD session local 10.0.0.1 remote 10.0.0.2'); },
  } as unknown as AgentControl;
  const dir = mkdtempSync(join(tmpdir(), 'vdm-ctl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'control.sock');
  const s = new ControlServer(path, createControlHandler(agent), memoryLogger().log);
  await s.start();
  t.teardown(() => s.close());
  await t.rejects(request(path, 'bfd.adminDown', { local: '10.0.0.1', remote: '10.0.0.2' }), { code: 'NO_SUCH_SESSION', message: /^no BFD session/ });
  await t.rejects(request(path, 'bfd.adminDown', { local: 'nope', remote: '10.0.0.2' }), { code: 'BAD_ARGUMENT', message: /^argument "local"/ });
  await t.rejects(request(path, 'bfd.setTimers', { local: '10.0.0.1', remote: '10.0.0.2' }), { code: 'BAD_ARGUMENT' });
  await t.rejects(request(path, 'debug.blockEventLoop', { ms: 1 }), { code: 'DISABLED' });
  const [line] = await raw(path, '{"v":1,"id":7,"cmd":"logLevel","level":"loud"}\n', 1);
  t.match(JSON.parse(line!), { v: 1, id: 7, ok: false, code: 'BAD_ARGUMENT', error: /^argument "level" must be one of/ }, 'on the wire');
});

t.test('client timeout when the agent does not answer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vdm-ctl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'mute.sock');
  const mute = createServer(() => undefined);
  await new Promise<void>((r) => mute.listen(path, r));
  t.teardown(() => mute.close());
  await t.rejects(request(path, 'status', {}, 200), { message: `the agent on ${path} did not answer within 200 ms` });
});

t.test('prepareSocketPath: stale replaced, live refused, non-socket never touched', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vdm-prep-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'file');
  writeFileSync(file, 'data');
  await t.rejects(prepareSocketPath(file), { message: `control socket path ${file} exists and is not a socket; refusing to replace it` });
  t.equal(statSync(file).size, 4);
  mkdirSync(join(dir, 'd'));
  await t.rejects(prepareSocketPath(join(dir, 'd')), /is not a socket/);
  const { path } = await server(t);
  await t.rejects(prepareSocketPath(path), /another process is serving the control socket/);
  const stale = join(dir, 'stale.sock');
  spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  await prepareSocketPath(stale);
  t.throws(() => statSync(stale), /ENOENT/, 'stale socket removed');
});

t.test('close removes only our own socket file', async (t) => {
  const { s, path } = await server(t);
  const { unlinkSync } = await import('node:fs');
  unlinkSync(path);
  const other = createServer();
  await new Promise<void>((r) => other.listen(path, r));
  t.teardown(() => other.close());
  t.notOk(s.serving(), 'replaced file: not ours');
  await s.close();
  t.ok(statSync(path).isSocket(), 'the other process\'s socket was left alone');
});

t.test('backpressure: a client that pipelines and never reads gets no more than the socket buffers hold', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vdm-ctl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'control.sock');
  let handled = 0;
  const big = 'x'.repeat(4096);
  const s = new ControlServer(path, { async command() { handled++; return big; }, text: () => '' }, memoryLogger().log);
  await s.start();
  t.teardown(() => s.close());
  const N = 20_000;
  const c = connect(path);
  await new Promise((r) => c.once('connect', r));
  c.pause(); // never read
  c.write('{"v":1,"cmd":"status"}\n'.repeat(N));
  await new Promise((r) => setTimeout(r, 1500));
  t.comment(`${N} pipelined requests, client not reading: ${handled} handled`);
  // 4 KiB replies: the kernel's socket buffers hold a few hundred at most; the rest must wait.
  t.ok(handled < 1000, `the server stopped answering while the client did not read (handled ${handled})`);
  // Reading resumes the flow: every request is answered, in order.
  let lines = 0;
  c.setEncoding('utf8');
  await new Promise<void>((resolve) => {
    c.on('data', (d: string) => {
      for (const ch of d) if (ch === '\n') lines++;
      if (lines === N) resolve();
    });
    c.resume();
  });
  t.equal(lines, N, 'all replies arrive once the client reads');
  t.equal(handled, N);
  c.destroy();
});
