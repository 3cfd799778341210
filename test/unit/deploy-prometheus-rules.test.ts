// deploy/prometheus-rules.yaml: every metric an alert uses is one the agent exports (a renamed
// metric would silently disable the alert), and the port alert compares against the agent's own
// warning threshold.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { registerObservabilityMetrics } from '../../agent/observe/metrics.js';

const RULES = readFileSync(fileURLToPath(new URL('../../deploy/prometheus-rules.yaml', import.meta.url)), 'utf8');

t.test('alert expressions use exported metrics only', async (t) => {
  const registry = new Registry();
  registerObservabilityMetrics(registry, { interfaces: () => [] });
  const exported = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
  const exprs = [...RULES.matchAll(/expr: (\|\n(?:\s{12,}.*\n)+|.*\n)/g)].map((m) => m[1]!);
  t.ok(exprs.length >= 4, `${exprs.length} alert expressions`);
  const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\begress_agent_[a-z0-9_]+/g)].map((m) => m[0])));
  for (const name of used) t.ok(exported.has(name), `${name} is exported`);
});

t.test('the port exhaustion alert uses the agent\'s threshold', async (t) => {
  t.match(RULES, /egress_agent_snat_port_usage_max_ratio\s*\n?\s*>= on \(namespace, pod\) egress_agent_snat_port_usage_warn_ratio/);
});
