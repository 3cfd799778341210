// The observer's Prometheus metrics: upstream's names, help texts and labels
// (kube_ovn_vpc_egress_gateway_*), in a private registry (no process metrics, as upstream). Every
// series carries the gateway's identity: namespace, name, pod, node.
import { Counter, Gauge, Registry } from 'prom-client';
import type { Identity } from './flow.js';

export const IDENTITY_LABELS = ['namespace', 'name', 'pod', 'node'] as const;
export const FLOW_LABELS = [...IDENTITY_LABELS, 'address_family', 'protocol', 'nat_type'] as const;
export const INTERFACE_LABELS = [...IDENTITY_LABELS, 'interface', 'type'] as const;

export type Collector = 'conntrack' | 'interface';
export type FlowLabels = { address_family: string; protocol: string; nat_type: string };

/** The upstream interface counters and the sysfs counter each is read from (rx/tx per direction label). */
export const INTERFACE_METRICS = {
  rx_bytes: ['kube_ovn_vpc_egress_gateway_interface_rx_bytes_total', 'Bytes received by a gateway interface.'],
  tx_bytes: ['kube_ovn_vpc_egress_gateway_interface_tx_bytes_total', 'Bytes transmitted by a gateway interface.'],
  rx_packets: ['kube_ovn_vpc_egress_gateway_interface_rx_packets_total', 'Packets received by a gateway interface.'],
  tx_packets: ['kube_ovn_vpc_egress_gateway_interface_tx_packets_total', 'Packets transmitted by a gateway interface.'],
} as const;

export class ObserverMetrics {
  readonly registry = new Registry();
  private readonly id: Record<(typeof IDENTITY_LABELS)[number], string>;

  readonly collectorUp = this.gauge('kube_ovn_vpc_egress_gateway_observability_collector_up', 'Whether an observer collector is operating successfully.', [...IDENTITY_LABELS, 'collector']);
  readonly configReloads = this.counter('kube_ovn_vpc_egress_gateway_observability_config_reload_total', 'Observer configuration reload attempts.', [...IDENTITY_LABELS, 'result']);
  readonly conntrackEvents = this.counter('kube_ovn_vpc_egress_gateway_observability_conntrack_events_total', 'Conntrack events processed by the observer.', [...IDENTITY_LABELS, 'event']);
  readonly errors = this.counter('kube_ovn_vpc_egress_gateway_observability_errors_total', 'Observer collector errors.', [...IDENTITY_LABELS, 'collector', 'operation']);
  readonly cacheEntries = this.gauge('kube_ovn_vpc_egress_gateway_observability_conntrack_cache_entries', 'Current entries in the conntrack flow cache.', IDENTITY_LABELS);
  readonly cacheCapacity = this.gauge('kube_ovn_vpc_egress_gateway_observability_conntrack_cache_capacity', 'Maximum conntrack flow cache entries.', IDENTITY_LABELS);
  readonly cacheEvictions = this.counter('kube_ovn_vpc_egress_gateway_observability_conntrack_cache_evictions_total', 'Conntrack cache evictions.', IDENTITY_LABELS);
  readonly logRecords = this.counter('kube_ovn_vpc_egress_gateway_observability_log_records_total', 'Flow log records written.', [...IDENTITY_LABELS, 'event']);
  readonly logDrops = this.counter('kube_ovn_vpc_egress_gateway_observability_log_drops_total', 'Flow log records dropped.', [...IDENTITY_LABELS, 'reason']);
  readonly accounting = this.gauge('kube_ovn_vpc_egress_gateway_observability_conntrack_accounting_available', 'Whether conntrack accounting counters are available.', IDENTITY_LABELS);
  readonly interfaceCounters = Object.fromEntries(Object.entries(INTERFACE_METRICS).map(([k, [name, help]]) => [k, this.counter(name, help, INTERFACE_LABELS)])) as Record<keyof typeof INTERFACE_METRICS, Counter>;
  readonly interfaceDrops = this.counter('kube_ovn_vpc_egress_gateway_interface_drops_total', 'Packets dropped by a gateway interface.', [...INTERFACE_LABELS, 'direction']);
  readonly interfaceErrors = this.counter('kube_ovn_vpc_egress_gateway_interface_errors_total', 'Packet errors observed by a gateway interface.', [...INTERFACE_LABELS, 'direction']);
  readonly activeFlows = this.gauge('kube_ovn_vpc_egress_gateway_conntrack_nat_flows_active', 'Active NAT conntrack flows.', FLOW_LABELS);
  readonly startedFlows = this.counter('kube_ovn_vpc_egress_gateway_conntrack_nat_flows_started_total', 'NAT conntrack flows started.', FLOW_LABELS);
  readonly endedFlows = this.counter('kube_ovn_vpc_egress_gateway_conntrack_nat_flows_ended_total', 'NAT conntrack flows ended.', FLOW_LABELS);
  readonly packets = this.counter('kube_ovn_vpc_egress_gateway_conntrack_nat_packets_total', 'Packets observed in NAT conntrack flows when accounting is available.', [...FLOW_LABELS, 'direction']);
  readonly bytes = this.counter('kube_ovn_vpc_egress_gateway_conntrack_nat_bytes_total', 'Bytes observed in NAT conntrack flows when accounting is available.', [...FLOW_LABELS, 'direction']);

  constructor(identity: Identity) {
    this.id = { namespace: identity.namespace, name: identity.name, pod: identity.pod, node: identity.node };
  }

  /** The identity labels plus `extra`. */
  labels<T extends Record<string, string>>(extra?: T): Record<string, string> {
    return extra ? { ...this.id, ...extra } : this.id;
  }

  setCollectorUp(collector: Collector, up: boolean): void {
    this.collectorUp.set(this.labels({ collector }), up ? 1 : 0);
  }

  error(collector: string, operation: string): void {
    this.errors.inc(this.labels({ collector, operation }));
  }

  /** Clears the flow-labelled series (conntrack metrics turned off, or a new session). */
  resetFlowMetrics(): void {
    for (const m of [this.activeFlows, this.startedFlows, this.endedFlows, this.packets, this.bytes]) m.reset();
    this.accounting.set(this.labels(), 0);
  }

  resetInterfaceMetrics(): void {
    for (const m of [...Object.values(this.interfaceCounters), this.interfaceDrops, this.interfaceErrors]) m.reset();
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  private gauge(name: string, help: string, labelNames: readonly string[]): Gauge {
    return new Gauge({ name, help, labelNames: [...labelNames], registers: [this.registry] });
  }

  private counter(name: string, help: string, labelNames: readonly string[]): Counter {
    return new Counter({ name, help, labelNames: [...labelNames], registers: [this.registry] });
  }
}
