import t from 'tap';
import { FlowCounts } from '../../agent/snat/flow-counts.js';

t.test('NEW and DESTROY move the current counts; local flows are not counted', async (t) => {
  const c = new FlowCounts();
  c.onNew(1, 'snat');
  c.onNew(2, 'snat');
  c.onNew(3, 'forwarded');
  c.onNew(4, 'local');
  t.same(c.current(), { snat: 2, forwarded: 1 });
  c.onDestroy(1, 'snat');
  c.onDestroy(4, 'local');
  t.same(c.current(), { snat: 1, forwarded: 1 });
  t.same(c.started, { snat: 2, forwarded: 1 });
});

t.test('a DESTROY of a flow never counted does not go below zero', async (t) => {
  const c = new FlowCounts();
  c.onDestroy(9, 'forwarded');
  t.same(c.current(), { snat: 0, forwarded: 0 });
});

t.test('resync: dumped ∪ new-during-dump − destroyed-during-dump, each flow once', async (t) => {
  const c = new FlowCounts();
  c.onNew(1, 'snat'); // counted before the resync; the dump replaces the counts
  c.onNew(99, 'snat'); // its DESTROY was lost: the dump corrects this
  c.beginResync();
  t.ok(c.resyncing);
  c.onNew(10, 'snat'); // created during the dump, and the dump lists it too
  c.onNew(11, 'forwarded'); // created during the dump, not in the dump
  c.onNew(12, 'snat'); // created and destroyed during the dump
  c.onDestroy(12, 'snat');
  c.onDestroy(2, 'snat'); // destroyed during the dump, after the dump listed it
  c.onDestroy(3, 'forwarded'); // destroyed before the dump got to it
  c.onDumped(1, 'snat');
  c.onDumped(2, 'snat');
  c.onDumped(10, 'snat');
  c.onDumped(4, 'forwarded');
  c.onDumped(5, 'local');
  t.same(c.current(), { snat: 2, forwarded: 0 }, 'unchanged until the dump ends');
  c.endResync();
  t.notOk(c.resyncing);
  // snat: 1, 10 ; forwarded: 4, 11
  t.same(c.current(), { snat: 2, forwarded: 2 });
  t.same(c.started, { snat: 4, forwarded: 1 });
});

t.test('a failed resync keeps the tracked counts and applies what happened meanwhile', async (t) => {
  const c = new FlowCounts();
  c.onNew(1, 'snat');
  c.onNew(2, 'forwarded');
  c.beginResync();
  c.onNew(3, 'snat');
  c.onDestroy(2, 'forwarded');
  c.onDumped(1, 'snat');
  c.abortResync();
  t.same(c.current(), { snat: 2, forwarded: 0 });
  c.onNew(4, 'snat');
  t.same(c.current(), { snat: 3, forwarded: 0 }, 'incremental again');
});

t.test('the bookkeeping of a resync is bounded: past the limit the resync is abandoned, counts stay event-tracked', async (t) => {
  const c = new FlowCounts(4);
  c.onNew(1, 'snat');
  c.beginResync();
  for (let id = 10; id < 14; id++) c.onNew(id, 'forwarded');
  t.ok(c.resyncing, 'at the limit: still resyncing');
  c.onDestroy(1, 'snat'); // one more entry: over the limit
  t.notOk(c.resyncing, 'abandoned');
  t.ok(c.abandoned, 'and says so');
  t.same(c.current(), { snat: 0, forwarded: 4 }, 'what happened meanwhile was applied');
  c.onDumped(20, 'snat'); // the rest of the dump is ignored
  c.endResync();
  t.same(c.current(), { snat: 0, forwarded: 4 });
  c.onNew(30, 'snat');
  t.same(c.current(), { snat: 1, forwarded: 4 }, 'incremental again');
});
