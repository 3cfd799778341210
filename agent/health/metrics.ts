// Prometheus metrics (prom-client, own Registry). Every value is read from the status snapshot
// at scrape time; nothing here is touched per packet or per event. Also Kube-OVN's
// kube_ovn_bfdd_* series so its shipped PodMonitor and alert rules keep working, and the traffic
// observability metrics (interfaces, conntrack, SNAT records) of agent/observe.
import { APPLY_BUCKETS_MS, type AgentStatus } from '../status/types.js';
import { DETECT_LATENESS_BOUNDS_US } from '../bfd/spec.js';
import { registerObservabilityMetrics, type ObservabilitySources } from '../observe/metrics.js';

export interface Metrics {
  contentType: string;
  render(status: AgentStatus): Promise<string>;
}

type Labels = Record<string, string | number>;
type Sample = [Labels, number];

const STATES = ['AdminDown', 'Down', 'Init', 'Up'] as const;
const SIGNAL_STATES = ['ok', 'pending', 'failed'] as const;

/** `observability`: the interfaces and SNAT recorder to read at scrape time (absent: none registered). */
export async function createMetrics(now: () => number = Date.now, observability?: ObservabilitySources): Promise<Metrics> {
  const prom = await import('prom-client');
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });
  let s: AgentStatus | null = null; // the snapshot of the scrape in progress
  let zeroSince: number | null = null;

  const sessions = () => s?.bfd?.sessions ?? [];
  const pair = (x: { local: string; remote: string }) => ({ local: x.local, remote: x.remote });

  function gauge(name: string, help: string, labelNames: string[], samples: () => Sample[]): void {
    new prom.Gauge({
      name, help, labelNames, registers: [registry],
      collect() {
        this.reset();
        for (const [labels, v] of samples()) this.set(labels, v);
      },
    });
  }
  function counter(name: string, help: string, labelNames: string[], samples: () => Sample[]): void {
    new prom.Counter({
      name, help, labelNames, registers: [registry],
      collect() {
        this.reset();
        for (const [labels, v] of samples()) this.inc(labels, v);
      },
    });
  }
  const one = (v: number): Sample[] => [[{}, v]];
  const flag = (b: boolean) => (b ? 1 : 0);

  gauge('egress_agent_info', 'Agent version (always 1).', ['version'], () => [[{ version: s!.version }, 1]]);
  gauge('egress_agent_live', 'Whether the agent is live (engine thread, event loop, control socket).', [], () => one(flag(s!.live.ok)));
  gauge('egress_agent_ready', 'Whether this replica can carry traffic.', [], () => one(flag(s!.ready.ok)));
  gauge('egress_agent_bfd_engine_alive', 'Whether the native BFD engine thread runs.', [], () => (s!.bfd ? one(flag(s!.bfd.engineAlive)) : []));
  gauge('egress_agent_bfd_session_state', 'BFD session state (1 for the current state).', ['local', 'remote', 'state'], () =>
    sessions().flatMap((x) => STATES.map((st): Sample => [{ ...pair(x), state: st }, flag(x.state === st)])));
  counter('egress_agent_bfd_session_transitions_total', 'BFD session state transitions.', ['local', 'remote'], () =>
    sessions().map((x) => [pair(x), x.counters.transitions]));
  counter('egress_agent_bfd_session_flaps_total', 'BFD session flaps (Up to not Up).', ['local', 'remote'], () =>
    sessions().map((x) => [pair(x), x.flaps]));
  counter('egress_agent_bfd_packets_total', 'BFD control packets.', ['local', 'remote', 'direction'], () =>
    sessions().flatMap((x): Sample[] => [[{ ...pair(x), direction: 'in' }, x.counters.packetsIn], [{ ...pair(x), direction: 'out' }, x.counters.packetsOut]]));
  counter('egress_agent_bfd_drops_total', 'Received BFD packets dropped, by reason.', ['local', 'remote', 'reason'], () =>
    sessions().flatMap((x) => Object.entries(x.counters.drops).map(([reason, n]): Sample => [{ ...pair(x), reason }, n])));
  counter('egress_agent_bfd_engine_drops_total', 'Received BFD packets that matched no session, by reason (e.g. notAPeer).', ['reason'], () =>
    Object.entries(s!.bfd?.engineDrops ?? {}).map(([reason, n]) => [{ reason }, n]));
  counter('egress_agent_bfd_rx_socket_drops_total', 'BFD packets the kernel dropped on a full engine receive socket.', ['local'], () =>
    (s!.bfd?.rxSockets ?? []).map((r) => [{ local: r.local }, r.drops]));
  gauge('egress_agent_bfd_rx_socket_buffer_bytes', 'Receive buffer of an engine receive socket (kernel accounting, doubled request).', ['local'], () =>
    (s!.bfd?.rxSockets ?? []).map((r) => [{ local: r.local }, r.receiveBufferBytes]));
  counter('egress_agent_bfd_events_coalesced_total',
    'BFD state changes merged into a queued one because the event loop was slow to take them (each session\'s last state is kept).', [], () =>
    (s!.bfd ? one(s!.bfd.eventsCoalesced) : []));
  counter('egress_agent_bfd_late_transmissions_total', 'BFD transmissions later than their schedule.', ['local', 'remote'], () =>
    sessions().map((x) => [pair(x), x.counters.lateTransmissions]));
  gauge('egress_agent_bfd_max_tx_gap_seconds', 'Largest gap between two of our own BFD transmissions.', ['local', 'remote'], () =>
    sessions().map((x) => [pair(x), x.counters.maxTxGapUs / 1e6]));
  gauge('egress_agent_bfd_detect_lateness_max_seconds', 'Largest delay between a BFD detection deadline and its handling.', ['local', 'remote'], () =>
    sessions().map((x) => [pair(x), x.counters.maxDetectLatenessUs / 1e6]));
  const lateness = 'egress_agent_bfd_detect_lateness_seconds';
  const latenessHelp = 'Delay between each expired BFD detection deadline and its handling by the engine thread.';
  registry.registerMetric({
    name: lateness, help: latenessHelp, type: 'histogram',
    get: async () => ({
      name: lateness, help: latenessHelp, type: 'histogram', aggregator: 'sum',
      values: sessions().flatMap((x) => {
        const c = x.counters;
        let cumulative = 0;
        return [
          ...DETECT_LATENESS_BOUNDS_US.map((le, i) => {
            cumulative += c.detectLatenessBuckets[i] ?? 0;
            return { metricName: `${lateness}_bucket`, labels: { ...pair(x), le: le / 1e6 }, value: cumulative };
          }),
          { metricName: `${lateness}_bucket`, labels: { ...pair(x), le: '+Inf' }, value: c.detectExpiries },
          { metricName: `${lateness}_sum`, labels: pair(x), value: c.detectLatenessSumUs / 1e6 },
          { metricName: `${lateness}_count`, labels: pair(x), value: c.detectExpiries },
        ];
      }),
    }),
  } as unknown as Parameters<typeof registry.registerMetric>[0]);
  gauge('egress_agent_bfd_tx_interval_seconds', 'Negotiated BFD transmit interval.', ['local', 'remote'], () =>
    sessions().map((x) => [pair(x), x.txIntervalMs / 1000]));
  gauge('egress_agent_bfd_detect_time_seconds', 'Negotiated BFD detection time.', ['local', 'remote'], () =>
    sessions().map((x) => [pair(x), x.detectTimeMs / 1000]));
  counter('egress_agent_bfd_recovery_actions_total', 'Bounded recovery actions on expected BFD sessions.', ['action', 'result'], () =>
    (s!.bfd?.recoveryActions ?? []).map((r) => [{ action: r.action, result: r.result }, r.count]));

  gauge('egress_agent_dataplane_managed', 'Whether this process manages the dataplane (some family has both gateways).', [], () => one(flag(s!.dataplane !== null)));
  gauge('egress_agent_dataplane_verified', 'Whether the live dataplane matched the desired one at the last check.', [], () =>
    (s!.dataplane ? one(flag(s!.dataplane.verified)) : []));
  counter('egress_agent_dataplane_applies_total', 'Dataplane apply passes.', [], () => (s!.dataplane ? one(s!.dataplane.applies) : []));
  counter('egress_agent_dataplane_repairs_total', 'Dataplane applies that repaired drift.', [], () => (s!.dataplane ? one(s!.dataplane.repairs) : []));
  counter('egress_agent_dataplane_apply_failures_total', 'Dataplane applies that failed.', [], () => one(s!.dataplaneApplies.failures));
  counter('egress_agent_dataplane_drift_events_total', 'Drifted dataplane objects found, by kind.', ['kind'], () =>
    Object.entries(s!.dataplaneApplies.driftByKind).map(([kind, n]) => [{ kind }, n]));
  counter('egress_agent_netlink_overflows_total',
    'Overflows (ENOBUFS) of a netlink change listener: notifications were lost and its state was re-read in full.', ['listener'], () => [
      ...(s!.dataplane?.netlink ? [[{ listener: 'dataplane' }, s!.dataplane.netlink.overflows] as Sample] : []),
      ...(s!.upstream?.netlink ? [[{ listener: 'upstream' }, s!.upstream.netlink.overflows] as Sample] : []),
    ]);
  registry.registerMetric({
    name: 'egress_agent_dataplane_apply_duration_seconds',
    help: 'Duration of dataplane apply passes.',
    type: 'histogram',
    get: async () => {
      const a = s!.dataplaneApplies;
      const name = 'egress_agent_dataplane_apply_duration_seconds';
      return {
        name, help: 'Duration of dataplane apply passes.', type: 'histogram', aggregator: 'sum',
        values: [
          ...APPLY_BUCKETS_MS.map((le, i) => ({ metricName: `${name}_bucket`, labels: { le: le / 1000 }, value: a.buckets[i]! })),
          { metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: a.count },
          { metricName: `${name}_sum`, labels: {}, value: a.sumMs / 1000 },
          { metricName: `${name}_count`, labels: {}, value: a.count },
        ],
      };
    },
  } as unknown as Parameters<typeof registry.registerMetric>[0]);

  gauge('egress_agent_event_loop_lag_seconds', 'Event-loop delay over the last 10-20 s.', ['stat'], () => {
    const e = s!.eventLoop;
    return [[{ stat: 'p50' }, e.p50Ms / 1000], [{ stat: 'p99' }, e.p99Ms / 1000], [{ stat: 'max' }, e.maxMs / 1000], [{ stat: 'mean' }, e.meanMs / 1000]];
  });
  counter('egress_agent_control_requests_total', 'Control socket requests.', [], () => one(s!.counters.controlRequests));
  counter('egress_agent_control_failures_total', 'Control socket commands that failed.', [], () => one(s!.counters.controlFailures));
  counter('egress_agent_reloads_total', 'Configuration reloads, by result.', ['result'], () => [
    [{ result: 'applied' }, s!.counters.reloads - s!.counters.reloadFailures], [{ result: 'rejected' }, s!.counters.reloadFailures]]);

  const upstream = () => s!.upstream;
  gauge('egress_agent_upstream_healthy', 'Whether the upstream (external link, gateway neighbour, probes) of the family is healthy.', ['family'], () =>
    (upstream()?.families ?? []).map((f) => [{ family: f.family }, flag(f.healthy)]));
  gauge('egress_agent_upstream_withdrawn', 'Whether the family is withdrawn from ECMP (its BFD sessions AdminDown, diag Concatenated Path Down) because its upstream is broken.', ['family'], () =>
    (upstream()?.families ?? []).map((f) => [{ family: f.family }, flag(f.withdraw)]));
  gauge('egress_agent_upstream_signal_state', 'Upstream signal state (1 for the current state).', ['family', 'signal', 'name', 'state'], () =>
    (upstream()?.signals ?? []).flatMap((x) => SIGNAL_STATES.map((st): Sample => [{ family: x.family, signal: x.signal, name: x.name, state: st }, flag(x.state === st)])));
  counter('egress_agent_upstream_probe_total', 'Upstream probe runs, by result.', ['family', 'name', 'result'], () =>
    (upstream()?.probes ?? []).flatMap((p): Sample[] => [[{ family: p.family, name: p.name, result: 'ok' }, p.ok], [{ family: p.family, name: p.name, result: 'failed' }, p.failed]]));
  gauge('egress_agent_upstream_probe_last_duration_seconds', 'Duration of the last run of the upstream probe.', ['family', 'name'], () =>
    (upstream()?.probes ?? []).map((p) => [{ family: p.family, name: p.name }, p.lastDurationMs / 1000]));
  counter('egress_agent_upstream_bfd_actions_total', 'BFD admin actions taken because of upstream health.', ['action'], () => {
    const a = upstream()?.bfdActions;
    return a ? [[{ action: 'adminDown' }, a.adminDown], [{ action: 'adminUp' }, a.adminUp]] : [];
  });

  if (observability) registerObservabilityMetrics(registry, observability);

  // Kube-OVN's supervisor series (pkg/bfddsupervisor/metrics.go).
  const expected = () => s!.bfd?.expected ?? [];
  gauge('kube_ovn_bfdd_expected_sessions', 'Number of BFD sessions expected by the supervisor.', [], () => one(expected().length));
  gauge('kube_ovn_bfdd_up_sessions', 'Number of expected BFD sessions currently Up.', [], () => one(expected().filter((e) => e.state === 'Up').length));
  counter('kube_ovn_bfdd_recovery_attempts_total', 'Number of bounded BFD recovery attempts.', ['action', 'result'], () =>
    (s!.bfd?.recoveryActions ?? []).map((r) => [{ action: r.action, result: r.result }, r.count]));
  gauge('kube_ovn_bfdd_recovery_phase', 'Current recovery phase for a BFD session.', ['local', 'remote', 'phase'], () =>
    expected().map((e) => [{ ...pair(e), phase: e.recovery.phase }, 1]));
  gauge('kube_ovn_bfdd_session_zero_seconds', 'Seconds for which all expected BFD sessions have been non-Up.', [], () => {
    const ex = expected();
    if (ex.length && ex.every((e) => e.state !== 'Up')) {
      zeroSince ??= now();
      return one((now() - zeroSince) / 1000);
    }
    zeroSince = null;
    return one(0);
  });
  counter('kube_ovn_bfdd_child_restarts_total', 'Number of successful BFD child restarts (the engine thread is never restarted).', [], () => one(0));
  gauge('kube_ovn_bfdd_child_circuit_open', 'Whether automatic child recovery is circuit-open.', [], () => one(0));
  gauge('kube_ovn_bfdd_circuit_open', 'Whether automatic recovery is circuit-open for a BFD session.', ['local', 'remote'], () =>
    expected().map((e) => [pair(e), flag(e.recovery.phase === 'CircuitOpen')]));

  return {
    contentType: registry.contentType,
    async render(status) {
      s = status;
      try {
        return await registry.metrics();
      } finally {
        s = null;
      }
    },
  };
}
