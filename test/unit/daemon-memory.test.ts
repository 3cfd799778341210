// /proc/PID/status parsing for the memory the agent reports.
import t from 'tap';
import { parseProcStatus, readProcessMemory } from '../../agent/daemon/memory.js';

t.test('VmRSS, RssAnon and RssFile in bytes', async (t) => {
  const text = 'Name:\tnode\nVmPeak:\t 1201640 kB\nVmRSS:\t   47112 kB\nRssAnon:\t   14220 kB\nRssFile:\t   32892 kB\nRssShmem:\t       0 kB\n';
  t.same(parseProcStatus(text), { rssBytes: 47112 * 1024, anonBytes: 14220 * 1024, fileBytes: 32892 * 1024 });
});

t.test('a missing field is NaN, never a made-up zero', async (t) => {
  const m = parseProcStatus('VmRSS:\t 10 kB\n');
  t.equal(m.rssBytes, 10240);
  t.ok(Number.isNaN(m.anonBytes) && Number.isNaN(m.fileBytes));
});

t.test('this process: anon + file = rss, heap in use', async (t) => {
  const m = readProcessMemory();
  t.ok(m.rssBytes > 0);
  // RssShmem is the third part of VmRSS; Node uses none here.
  t.ok(Math.abs(m.anonBytes + m.fileBytes - m.rssBytes) <= 4 << 20, `${m.anonBytes} + ${m.fileBytes} ~ ${m.rssBytes}`);
  t.ok(m.heapUsedBytes > 0);
});
