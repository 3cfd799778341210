import t from 'tap';
import { expectedPairs, expectedSessions, pairKey } from '../../agent/bfd/sessions.js';
import type { BfdConfig } from '../../agent/config/types.js';

const cfg: BfdConfig = {
  enabled: true,
  localIps: ['10.16.0.11', 'fd00:10:16:0::11'],
  peerIps: ['10.255.255.255', 'FDFF::1'],
  minTxMs: 100, minRxMs: 300, multiplier: 3, passive: false, minTtl: 254, realtimePriority: 0, statePath: '/nonexistent',
};

t.test('one session per same-family pair, canonical addresses', async (t) => {
  t.same(expectedPairs(cfg.localIps, cfg.peerIps), [
    { local: '10.16.0.11', remote: '10.255.255.255' },
    { local: 'fd00:10:16::11', remote: 'fdff::1' },
  ]);
});

t.test('cross product within a family, duplicates removed', async (t) => {
  const pairs = expectedPairs(['10.0.0.1', '10.0.0.2', '10.0.0.1'], ['10.9.0.1', '10.9.0.2', 'fd00::1']);
  t.same(pairs.map(pairKey), ['10.0.0.1|10.9.0.1', '10.0.0.1|10.9.0.2', '10.0.0.2|10.9.0.1', '10.0.0.2|10.9.0.2']);
  t.same(expectedPairs(['10.0.0.1'], ['fd00::1']), [], 'no pair across families');
});

t.test('specs carry the configured timers and the assigned discriminators', async (t) => {
  const d = new Map([['10.16.0.11|10.255.255.255', 7], ['fd00:10:16::11|fdff::1', 8]]);
  const specs = expectedSessions(cfg, d);
  t.equal(specs.length, 2);
  t.match(specs[0], { local: '10.16.0.11', remote: '10.255.255.255', minTxMs: 100, minRxMs: 300, multiplier: 3, minTtl: 254, passive: false, localDiscr: 7 });
  t.equal(specs[1]!.localDiscr, 8);
  t.same(expectedSessions({ ...cfg, enabled: false }, d), [], 'disabled: no sessions');
  t.throws(() => expectedSessions(cfg, new Map()), /10.16.0.11 -> 10.255.255.255: no local discriminator/);
});
