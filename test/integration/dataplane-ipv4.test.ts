// IPv4-only gateway: `egress-agent init` in a lab replica, then Kube-OVN's observable state, real
// SNAT / no-SNAT traffic, foreign iptables rules kept, and an idempotent second init.
import t from 'tap';
import { withLab } from '../helpers/lab.js';
import { initScenario } from '../helpers/dataplane.js';

t.setTimeout(180_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');

t.test('IPv4 only', async (t) => {
  const lab = await withLab(t, { prefix: 'vdt4', replicas: 1, family: '4' });
  await initScenario(t, lab, ['ipv4'], ['ipv6']);
});
