// Upstream status -> BFD admin actions: AdminDown with Concatenated Path Down for a withdrawn
// family, AdminUp only for sessions we took down, nothing for drains, operators or other families.
import t from 'tap';
import type { BfdDiag, BfdState } from '../../agent/bfd/types.js';
import { applyUpstreamToBfd, upstreamBfdActions, type BfdAdminAction } from '../../agent/upstream/bfd-link.js';
import type { UpstreamFamilyStatus } from '../../agent/upstream/policy.js';

interface Session { local: string; remote: string; state: BfdState; localDiag: BfdDiag }

const v4 = (state: BfdState = 'Up', localDiag: BfdDiag = 'None'): Session => ({ local: '10.16.0.11', remote: '10.255.255.255', state, localDiag });
const v6 = (state: BfdState = 'Up', localDiag: BfdDiag = 'None'): Session => ({ local: 'fd00:10:16::11', remote: 'fdff::1', state, localDiag });

const withdrawn = (family: 4 | 6): UpstreamFamilyStatus => ({
  family, healthy: false, withdraw: true, since: 0,
  reasons: [
    { signal: 'link', name: 'net1', state: 'failed', withdraw: true, message: 'link net1: no carrier (operstate lowerlayerdown)' },
    { signal: 'probe', name: 'icmp 198.51.100.10', state: 'failed', withdraw: false, message: 'probe icmp 198.51.100.10: 3 consecutive failures' },
  ],
});
const healthy = (family: 4 | 6): UpstreamFamilyStatus => ({ family, healthy: true, withdraw: false, since: 0, reasons: [] });
const notReady = (family: 4 | 6): UpstreamFamilyStatus => ({
  family, healthy: false, withdraw: false, since: 0,
  reasons: [{ signal: 'probe', name: 'icmp 198.51.100.10', state: 'failed', withdraw: false, message: 'probe failed' }],
});

/** What the engine would report after the actions ran (AdminDown keeps the given diagnostic). */
function applyActions(sessions: Session[], actions: BfdAdminAction[]): Session[] {
  return sessions.map((s) => {
    const a = actions.find((x) => x.local === s.local && x.remote === s.remote);
    if (!a) return s;
    return a.op === 'adminDown' ? { ...s, state: 'AdminDown', localDiag: a.diag } : { ...s, state: 'Down' };
  });
}

t.test('a withdrawn family: AdminDown with Concatenated Path Down for its sessions only', async (t) => {
  const actions = upstreamBfdActions([withdrawn(4), healthy(6)], [v4(), v6()]);
  t.same(actions, [{
    op: 'adminDown', local: '10.16.0.11', remote: '10.255.255.255', diag: 'ConcatenatedPathDown', family: 4,
    why: 'link net1: no carrier (operstate lowerlayerdown)',
  }], 'the why lists only the withdrawing reasons');
});

t.test('every session of the family goes down, whatever its state', async (t) => {
  const other = { local: '10.16.0.11', remote: '10.255.255.254', state: 'Init' as BfdState, localDiag: 'None' as BfdDiag };
  const down = { local: '10.16.0.11', remote: '10.255.255.253', state: 'Down' as BfdState, localDiag: 'ControlDetectionTimeExpired' as BfdDiag };
  const actions = upstreamBfdActions([withdrawn(4)], [v4(), other, down]);
  t.same(actions.map((a) => [a.op, a.remote]), [['adminDown', '10.255.255.255'], ['adminDown', '10.255.255.254'], ['adminDown', '10.255.255.253']]);
});

t.test('idempotent: no further action once applied, AdminUp once healthy, then nothing', async (t) => {
  let sessions: Session[] = [v4(), v6()];
  const first = upstreamBfdActions([withdrawn(4), withdrawn(6)], sessions);
  t.equal(first.length, 2);
  sessions = applyActions(sessions, first);
  t.same(upstreamBfdActions([withdrawn(4), withdrawn(6)], sessions), [], 'already AdminDown');
  const up = upstreamBfdActions([healthy(4), withdrawn(6)], sessions);
  t.same(up, [{ op: 'adminUp', local: '10.16.0.11', remote: '10.255.255.255', family: 4, why: 'IPv4 upstream healthy again' }]);
  sessions = applyActions(sessions, up);
  t.same(upstreamBfdActions([healthy(4), withdrawn(6)], sessions), []);
});

t.test('not ready but not withdrawn (report-only probe failure): sessions stay Up', async (t) => {
  t.same(upstreamBfdActions([notReady(4)], [v4()]), []);
  t.same(upstreamBfdActions([notReady(4)], [v4('AdminDown', 'ConcatenatedPathDown')]).map((a) => a.op), ['adminUp'],
    'a session we withdrew comes back even though the family is still not ready');
});

t.test('never undoes a drain or an operator AdminDown', async (t) => {
  t.same(upstreamBfdActions([healthy(4)], [v4('AdminDown', 'AdministrativelyDown')]), []);
  t.same(upstreamBfdActions([withdrawn(4)], [v4('AdminDown', 'AdministrativelyDown')]), [], 'already down: left as is');
});

t.test('families the monitor does not watch are left alone', async (t) => {
  t.same(upstreamBfdActions([withdrawn(4)], [v6(), v6('AdminDown', 'ConcatenatedPathDown')]), []);
  t.same(upstreamBfdActions([], [v4()]), []);
});

t.test('applyUpstreamToBfd calls the engine and is idempotent', async (t) => {
  let sessions: Session[] = [v4(), v6()];
  const calls: string[] = [];
  const engine = {
    sessions: () => sessions,
    adminDown: (local: string, remote: string, diag?: BfdDiag) => {
      calls.push(`down ${local} ${remote} ${diag}`);
      sessions = sessions.map((s) => (s.local === local && s.remote === remote ? { ...s, state: 'AdminDown', localDiag: diag ?? 'AdministrativelyDown' } : s));
    },
    adminUp: (local: string, remote: string) => {
      calls.push(`up ${local} ${remote}`);
      sessions = sessions.map((s) => (s.local === local && s.remote === remote ? { ...s, state: 'Down' } : s));
    },
  };
  t.equal(applyUpstreamToBfd([withdrawn(4), healthy(6)], engine).length, 1);
  t.equal(applyUpstreamToBfd([withdrawn(4), healthy(6)], engine).length, 0, 'second call: nothing to do');
  t.equal(applyUpstreamToBfd([healthy(4), healthy(6)], engine).length, 1);
  t.same(calls, ['down 10.16.0.11 10.255.255.255 ConcatenatedPathDown', 'up 10.16.0.11 10.255.255.255']);
});
