// Dual-stack: both families configured; and a dual-stack internal subnet with an IPv4-only external
// subnet, where Kube-OVN configures IPv4 only (EXTERNAL_GATEWAY_IPV6 is empty) and IPv6 is left alone.
import t from 'tap';
import { withLab } from '../helpers/lab.js';
import { initScenario } from '../helpers/dataplane.js';

t.setTimeout(300_000);
t.equal(process.getuid?.(), 0, 'integration tests run as root (CI does); not skipping');

t.test('dual stack', async (t) => {
  const lab = await withLab(t, { prefix: 'vdtd', replicas: 1, family: 'dual' });
  await initScenario(t, lab, ['ipv4', 'ipv6'], []);
});

t.test('dual internal, IPv4-only external', async (t) => {
  const lab = await withLab(t, { prefix: 'vdtx', replicas: 1, family: 'dual', extFamily: '4' });
  const env = await lab.env('gw1');
  t.equal(env.EXTERNAL_GATEWAY_IPV6 ?? '', '', 'the lab gives no external IPv6 gateway, as Kube-OVN does here');
  await initScenario(t, lab, ['ipv4'], ['ipv6']);
});
