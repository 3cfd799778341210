// IPv6-only gateway: `egress-agent init` in a lab replica, then Kube-OVN's observable state, real
// SNAT / no-SNAT traffic, foreign ip6tables rules kept, and an idempotent second init.
import t from 'tap';
import { withLab } from '../helpers/lab.js';
import { initScenario } from '../helpers/dataplane.js';

t.setTimeout(180_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');

t.test('IPv6 only', async (t) => {
  const lab = await withLab(t, { prefix: 'vdt6', replicas: 1, family: '6' });
  await initScenario(t, lab, ['ipv6'], ['ipv4']);
});
