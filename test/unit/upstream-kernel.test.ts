// UpstreamKernel's neighbour re-verification against fake rtnetlink sockets: what it asks the
// kernel to do for each cached state, and how it recovers when its cache is behind the kernel.
import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import { UpstreamKernel, type NeighbourWatch, type UpstreamKernelIo } from '../../agent/upstream/kernel.js';

const NET1 = 7;
const watch: NeighbourWatch = { family: 4, interface: 'net1', gateway: '172.17.0.1' };

/** A kernel whose neighbour table the test sets; every request is recorded. */
class FakeKernel {
  nud = 'reachable';
  dumps = 0;
  readonly requests: { state: object; flags: object }[] = [];
  failNext: Error | undefined;
  readonly notifications = Object.assign(new EventEmitter(), { start() {}, stop() {}, stats: () => ({ overflows: 0, truncated: 0, receiveBufferBytes: 0, forced: false }) });

  io(): UpstreamKernelIo {
    return {
      requests: () => ({
        getLinks: async () => [{ data: { index: NET1, flags: { up: true, lowerUp: true } }, attrs: { ifname: 'net1', operstate: 6 } }],
        getNeighbors: async () => {
          this.dumps++;
          return [{ data: { family: 2, ifindex: NET1, state: { [this.nud]: true }, flags: {} }, attrs: { dst: Buffer.from([172, 17, 0, 1]) } }];
        },
        newNeighbor: async (data: { state: object; flags: object }) => {
          const err = this.failNext;
          this.failNext = undefined;
          if (err) throw err;
          this.requests.push({ state: data.state, flags: data.flags });
          return [];
        },
        close() {},
      }) as unknown as ReturnType<UpstreamKernelIo['requests']>,
      notifications: () => this.notifications as unknown as ReturnType<UpstreamKernelIo['notifications']>,
      addresses: () => ({ addresses: async () => [], close() {} }),
    };
  }
}

const started = async (t: Test, kernel: FakeKernel): Promise<{ k: UpstreamKernel; seen: string[]; resyncs: string[] }> => {
  const k = new UpstreamKernel(['net1'], [watch], kernel.io());
  const seen: string[] = [];
  const resyncs: string[] = [];
  k.on('neighbour', (_w, nud) => seen.push(nud));
  k.on('resync', (reason) => resyncs.push(reason));
  await k.start();
  t.teardown(() => k.stop());
  return { k, seen, resyncs };
};

t.test('each cached state gets its request: PROBE for a known address, NTF_USE for none, nothing while probing', async (t) => {
  for (const [nud, expected] of [
    ['reachable', [{ state: { probe: true }, flags: {} }]],
    ['stale', [{ state: { probe: true }, flags: {} }]],
    ['delay', [{ state: { probe: true }, flags: {} }]],
    ['failed', [{ state: {}, flags: { use: true } }]],
    ['probe', []],
    ['incomplete', []],
    ['permanent', []],
  ] as const) {
    const kernel = new FakeKernel();
    kernel.nud = nud;
    const { k } = await started(t, kernel);
    await k.verifyNeighbour(watch);
    t.same(kernel.requests, expected, `${nud}: ${JSON.stringify(expected)}`);
  }
});

t.test('a PROBE the kernel has already left is read again at the next round, then probed', async (t) => {
  // The start's dump saw PROBE; the kernel answered and went REACHABLE, but that notification was
  // handled before the dump's reply (or REACHABLE -> DELAY, which is never notified).
  const kernel = new FakeKernel();
  kernel.nud = 'probe';
  const { k, seen } = await started(t, kernel);
  kernel.nud = 'reachable';
  await k.verifyNeighbour(watch);
  t.same(kernel.requests, [], 'first round: the kernel is probing, as far as the cache knows');
  t.equal(kernel.dumps, 1, 'no re-read yet');
  await k.verifyNeighbour(watch);
  t.equal(kernel.dumps, 2, 'second round, PROBE unchanged since the first: re-read');
  t.same(seen.at(-1), 'reachable', 'the re-read state is reported');
  t.same(kernel.requests, [{ state: { probe: true }, flags: {} }], 'and the entry is probed');
});

t.test('an INCOMPLETE that a report changed since the last round is not re-read', async (t) => {
  const kernel = new FakeKernel();
  kernel.nud = 'incomplete';
  const { k } = await started(t, kernel);
  await k.verifyNeighbour(watch);
  await k.resync(); // a fresh report (as a notification would be) of the same state
  const dumps = kernel.dumps;
  await k.verifyNeighbour(watch);
  t.equal(kernel.dumps, dumps, 'no extra read');
  t.same(kernel.requests, [], 'still left to the kernel');
});

t.test('a failed request is a lost notification: everything is re-read and the error still reaches the caller', async (t) => {
  const kernel = new FakeKernel();
  const { k, resyncs } = await started(t, kernel);
  kernel.failNext = Object.assign(new Error('Invalid argument'), { code: 'EINVAL' });
  kernel.nud = 'failed';
  await t.rejects(k.verifyNeighbour(watch), /verify neighbour 172\.17\.0\.1 dev net1 \(was reachable\)/);
  t.equal(resyncs.length, 1, 'one re-read');
  t.match(resyncs[0], /verify neighbour 172\.17\.0\.1 dev net1/, 'its reason names the request');
  await k.resync();
  await k.verifyNeighbour(watch);
  t.same(kernel.requests, [{ state: {}, flags: { use: true } }], 'the next round acts on the state read again (FAILED: NTF_USE)');
});
