// LogThrottle keeps a line that a burst repeats (e.g. netlink overflows) to one per interval.
import t from 'tap';
import { LogThrottle } from '../../agent/lib/log.js';

t.test('LogThrottle: one line per interval, counting the ones left out', async (t) => {
  let now = 1000;
  const th = new LogThrottle(10_000, () => now);
  t.equal(th.take(), 0, 'the first one goes through');
  now += 1;
  t.equal(th.take(), undefined);
  now += 5000;
  t.equal(th.take(), undefined);
  now += 4999;
  t.equal(th.take(), 2, 'after the interval: through, with the two left out');
  now += 9999;
  t.equal(th.take(), undefined);
  now += 1;
  t.equal(th.take(), 1);
});
