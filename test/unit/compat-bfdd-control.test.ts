// Pins every bfdd-control reply the agent produces against OpenBFDD 0.5.4's exact text
// (CommandProcessor.cpp), including the parse Kube-OVN's supervisor applies to `status`.
import t from 'tap';
import { bfddControl, commas, formatStatus, type BfddBackend, type BfddSession, type BfddTarget } from '../../agent/compat/bfdd-control.js';

function backend(sessions: BfddSession[] = []) {
  const calls: unknown[][] = [];
  const exists = (tg: BfddTarget) => 'all' in tg || sessions.some((s) => ('id' in tg ? s.id === tg.id : s.local === tg.local && s.remote === tg.remote));
  let logCommand = true;
  const b: BfddBackend = {
    sessions: () => sessions,
    allow: (ip) => {
      calls.push(['allow', ip]);
      if (ip === '192.0.2.99') throw new Error('192.0.2.99 is not a configured BFD peer (BFD_PEER_IPS)');
    },
    block: (ip) => void calls.push(['block', ip]),
    kill: (tg) => (calls.push(['kill', tg]), exists(tg)),
    reset: (tg) => (calls.push(['reset', tg]), exists(tg)),
    adminDown: (tg, diag) => (calls.push(['adminDown', tg, diag]), exists(tg)),
    adminUp: (tg) => (calls.push(['adminUp', tg]), exists(tg)),
    setTimers: (tg, item, value) => (calls.push(['setTimers', tg, item, value]), tg === 'new' || exists(tg)),
    setLogType: (type, enable) => {
      if (type !== 'command') return null;
      const was = logCommand;
      logCommand = enable;
      return was;
    },
    stop: () => void calls.push(['stop']),
    version: () => 'egress-agent v0.1.0',
  };
  return { b, calls };
}

const two: BfddSession[] = [
  { id: 1, local: '192.168.0.3', remote: '10.255.255.255', state: 'Up', passive: true },
  { id: 4, local: 'fd00:10:16::c', remote: 'fdff::1', state: 'Down', passive: false },
];

t.test('status: OpenBFDD level-1 compact format, byte for byte', async (t) => {
  const { b } = backend(two);
  const r = bfddControl(['status'], b);
  t.equal(r.exitCode, 0);
  t.equal(r.text,
    'There are 2 sessions:\n' +
    'Session 1\n id=1 local=192.168.0.3 (p) remote=10.255.255.255 state=Up \n' +
    'Session 4\n id=4 local=fd00:10:16::c (a) remote=fdff::1 state=Down \n');
  t.equal(bfddControl(['status'], backend([]).b).text, 'There are 0 sessions:\n', 'the line G2 healthcheck greps for');
});

t.test('status output parses the way Kube-OVN G3 parses it (control.go Status)', async (t) => {
  const text = formatStatus(two).trim();
  const lines = text.split('\n');
  t.match(lines[0], /^There are \d+ sessions:$/);
  const parsed = lines.slice(1).filter((l) => !l.trim().startsWith('Session ')).map((l) =>
    Object.fromEntries(l.trim().split(/\s+/).filter((f) => f.includes('=')).map((f) => f.split('=') as [string, string])));
  t.same(parsed, [
    { id: '1', local: '192.168.0.3', remote: '10.255.255.255', state: 'Up' },
    { id: '4', local: 'fd00:10:16::c', remote: 'fdff::1', state: 'Down' },
  ]);
});

t.test('status variants: all (not compact), one session, level 0, unknown', async (t) => {
  const { b } = backend(two);
  t.equal(bfddControl(['status', 'all'], b).text,
    'There are 2 sessions:\nSession 1\n id=1 \n local=192.168.0.3 (p) \n remote=10.255.255.255 \n state=Up \n\nSession 4\n id=4 \n local=fd00:10:16::c (a) \n remote=fdff::1 \n state=Down \n');
  t.equal(bfddControl(['status', '4', 'compact'], b).text, ' id=4 local=fd00:10:16::c (a) remote=fdff::1 state=Down \n');
  t.equal(bfddControl(['status', 'remote', '10.255.255.255', 'local', '192.168.0.3', 'compact', 'level', '0'], b).text,
    ' id=1 local=192.168.0.3 remote=10.255.255.255 state=Up\n');
  const missing = bfddControl(['status', '9'], b);
  t.same(missing, { text: 'No session with id=9.\n', exitCode: 1 });
  t.same(bfddControl(['status', 'bogus'], b), {
    text: "Must supply 'all', session id or 'remote ip local ip' before other settings. Unknown <bogus>.\n", exitCode: 1 });
  t.same(bfddControl(['status', 'all', 'fancy'], b), { text: 'Unrecognized  status setting <fancy>.\n', exitCode: 1 });
  t.equal(bfddControl(['status', 'all', 'level', '3'], b).exitCode, 1, 'levels we do not render are refused, not faked');
});

t.test('the configuration commands Kube-OVN sends (G1 prestart, G3 Configure) and their reply prefixes', async (t) => {
  const { b, calls } = backend(two);
  const cases: [string[], string][] = [
    [['session', 'new', 'set', 'mintx', '100', 'ms'], 'Attempting to set mintx to 100,000 us.\n'],
    [['session', 'new', 'set', 'minrx', '1', 's'], 'Attempting to set minrx to 1,000,000 us.\n'],
    [['session', 'new', 'set', 'multi', '3'], 'Attempting to set multi to 3.\n'],
    [['allow', '10.255.255.255'], 'Allowing connections from 10.255.255.255\n'],
    [['log', 'type', 'command', 'no'], 'Log type command set to no, was yes\n'],
  ];
  for (const [args, text] of cases) t.same(bfddControl(args, b), { text, exitCode: 0 }, args.join(' '));
  t.same(calls, [
    ['setTimers', 'new', 'mintx', 100_000], ['setTimers', 'new', 'minrx', 1_000_000], ['setTimers', 'new', 'multi', 3],
    ['allow', '10.255.255.255'],
  ]);
});

t.test('#5021: a time without a unit is rejected, and now with a non-zero exit', async (t) => {
  const { b, calls } = backend();
  t.same(bfddControl(['session', 'new', 'set', 'mintx', '100'], b), { text: "Must supply a unit after the value 100: 's', 'ms' or 'us'\n", exitCode: 1 });
  t.same(bfddControl(['session', 'new', 'set', 'mintx', 'x', 'ms'], b), { text: "'set mintx' value must be an integer followed by time unit : <x>.\n", exitCode: 1 });
  t.same(bfddControl(['session', 'new', 'set', 'minrx', '5', 'min'], b), { text: "Unknown unit <min>. Use: 's', 'ms' or 'us'\n", exitCode: 1 });
  t.same(bfddControl(['session', 'new', 'set', 'mintx', '0', 'ms'], b), { text: "'set mintx' value can not be 0.\n", exitCode: 1 });
  t.equal(bfddControl(['session', 'new', 'set', 'mintx', '1500', 'us'], b).exitCode, 1, 'sub-millisecond precision refused');
  t.same(bfddControl(['session', 'new', 'set', 'multi', '0'], b), { text: "'set multi' value can not be 0.\n", exitCode: 1 });
  t.same(bfddControl(['session', 'new', 'set', 'multi', '256'], b), { text: "Value for 'set multi is too large..\n", exitCode: 1 });
  t.same(calls, [], 'nothing applied on a rejected command');
});

t.test('block, kill, reset (the e2e zero-session injection and the supervisor reset)', async (t) => {
  const { b, calls } = backend(two);
  t.same(bfddControl(['block', '10.255.255.255'], b), { text: 'Blocking connections from 10.255.255.255. This will not terminate any ongoing session.\n', exitCode: 0 });
  t.same(bfddControl(['session', 'all', 'kill'], b), { text: 'Attempting to kill session(s).\n', exitCode: 0 });
  t.same(bfddControl(['session', 'local', '192.168.0.3', 'remote', '10.255.255.255', 'reset'], b), { text: 'Attempting to reset session(s).\n', exitCode: 0 });
  t.same(bfddControl(['session', 'local', '192.168.0.9', 'remote', '10.255.255.255', 'reset'], b), {
    text: 'Attempting to reset session(s).\nNo session with local ip=192.168.0.9 and remote ip=10.255.255.255.\n', exitCode: 1 });
  t.same(bfddControl(['session', '77', 'kill'], b), { text: 'Attempting to kill session(s).\nNo session with id=77.\n', exitCode: 1 });
  t.same(calls.slice(0, 3), [
    ['block', '10.255.255.255'], ['kill', { all: true }], ['reset', { local: '192.168.0.3', remote: '10.255.255.255' }],
  ]);
});

t.test('session state admin/up map to admin-down/up; unsupported actions say so', async (t) => {
  const { b, calls } = backend(two);
  t.same(bfddControl(['session', '1', 'state', 'admin'], b), { text: 'Attempting to put session(s) into AdminDown state with diagnostic <Administratively Down>.\n', exitCode: 0 });
  t.same(bfddControl(['session', '1', 'state', 'admin', '6'], b), { text: 'Attempting to put session(s) into AdminDown state with diagnostic <Concatenated Path Down>.\n', exitCode: 0 });
  t.same(bfddControl(['session', '1', 'state', 'up'], b), { text: 'Attempting to put session(s) into Up state with diagnostic <No Diagnostic>.\n', exitCode: 0 });
  t.same(calls, [['adminDown', { id: 1 }, 'AdministrativelyDown'], ['adminDown', { id: 1 }, 'ConcatenatedPathDown'], ['adminUp', { id: 1 }]]);
  t.equal(bfddControl(['session', '1', 'state', 'down'], b).exitCode, 1);
  t.equal(bfddControl(['session', '1', 'suspend'], b).exitCode, 1);
  t.same(bfddControl(['session', 'new', 'kill'], b), { text: "Attempting to kill session(s).\n'new' can only be used with 'set'.\n", exitCode: 1 });
  t.same(bfddControl(['session', '1', 'state', 'up', '3'], b), { text: 'State up can not have diagnostic value.\n', exitCode: 1 });
  t.same(bfddControl(['session', '1', 'frob'], b), {
    text: "Unrecognized session action <frob> use: 'state', 'set', 'kill', 'reset', 'suspend' or 'resume'.\n", exitCode: 1 });
  t.same(bfddControl(['session', 'local', '1.2.3.4'], b), {
    text: "Must supply 'all', 'new', session id or 'remote ip local ip' before other settings. Error: 'remote' not found.\n", exitCode: 1 });
});

t.test('addresses, unknown commands, errors from the backend', async (t) => {
  const { b } = backend(two);
  t.same(bfddControl(['allow', 'nope'], b), { text: 'Invalid IPv4 or IPv6 address <nope>.\n', exitCode: 1 });
  t.same(bfddControl(['allow'], b), { text: 'Must supply ip address.\n', exitCode: 1 });
  t.same(bfddControl(['allow', '192.0.2.99'], b), {
    text: 'Unable to complete request. Exception: 192.0.2.99 is not a configured BFD peer (BFD_PEER_IPS)\n', exitCode: 1 });
  t.same(bfddControl(['frobnicate'], b), { text: 'Unknown command <frobnicate>\n', exitCode: 1 });
  t.same(bfddControl(['STATUS'], b).exitCode, 0, 'the command word is case-insensitive, as in OpenBFDD');
  t.same(bfddControl(['log', 'type', 'timing', 'no'], b), { text: 'Unknown log type: timing.\n', exitCode: 1 });
  t.same(bfddControl(['version'], b), { text: 'egress-agent v0.1.0\n', exitCode: 0 });
});

t.test('commas: OpenBFDD FormatInteger', async (t) => {
  t.equal(commas(0), '0');
  t.equal(commas(999), '999');
  t.equal(commas(1000), '1,000');
  t.equal(commas(4294967295), '4,294,967,295');
});
