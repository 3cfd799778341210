// The observer's inputs: the controller's config.json (upstream's shape, validated against the
// CRD's rules with every error named by its JSON path) and upstream's flags.
import t from 'tap';
import { InputError, formatConfigErrors } from '../../agent/config/errors.js';
import { parseObserverConfig } from '../../agent/observer/config.js';
import { parseObserverFlags } from '../../agent/observer/flags.js';

/** What Kube-OVN's controller writes for the e2e's gateway (json.Marshal of vegobserver.Config). */
const CONTROLLER = {
  namespace: 'ns1', name: 'veg-a', externalNetwork: 'ns1/macvlan',
  observability: {
    resources: {}, interfaceMetrics: { enabled: true },
    conntrack: { metrics: { enabled: true }, log: { enabled: true, rateLimit: {}, filters: {} } },
    serviceMonitor: { labels: { e2e: 'vpc-egress-observability' } },
  },
};

function errorsOf(value: unknown): string[] {
  try {
    parseObserverConfig(JSON.stringify(value), '/c.json');
  } catch (err) {
    if (err instanceof InputError) return formatConfigErrors(err.errors).split('\n');
    throw err;
  }
  return [];
}

const withLog = (log: object) => ({ ...CONTROLLER, observability: { ...CONTROLLER.observability, conntrack: { metrics: { enabled: false }, log } } });

t.test('the controller\'s config loads, with upstream\'s defaults', async (t) => {
  const { config, unknownKeys } = parseObserverConfig(JSON.stringify(CONTROLLER), '/c.json');
  t.same(unknownKeys, []);
  t.match(config, {
    namespace: 'ns1', name: 'veg-a', externalNetwork: 'ns1/macvlan', interfaceMetrics: true, conntrackMetrics: true,
    log: { enabled: true, events: [], recordsPerSecond: 0, burst: 0, include: [], exclude: [] },
  });
  // The hash ignores formatting and key order, so only a real change is a reload.
  const reordered = JSON.stringify({ observability: CONTROLLER.observability, externalNetwork: 'ns1/macvlan', name: 'veg-a', namespace: 'ns1' }, null, 2);
  t.equal(parseObserverConfig(reordered, '/c.json').config.hash, config.hash);
  t.not(parseObserverConfig(JSON.stringify(withLog({ enabled: true, events: ['end'] })), '/c.json').config.hash, config.hash);
});

t.test('a full filter set parses', async (t) => {
  const rule = { addressFamilies: ['ipv4'], protocols: ['tcp', 'udp'], natTypes: ['snat'], original: { sourceCIDRs: ['10.0.0.0/8'], destinationPorts: [{ start: 443, end: 443 }] }, translated: { sourceCIDRs: ['fd00::/64'] } };
  const { config } = parseObserverConfig(JSON.stringify(withLog({ enabled: true, events: ['start', 'end'], rateLimit: { recordsPerSecond: 50, burst: 10 }, filters: { include: [rule], exclude: [{ protocols: ['icmp'] }] } })), '/c.json');
  t.same(config.log.include[0], { addressFamilies: ['ipv4'], protocols: ['tcp', 'udp'], natTypes: ['snat'], original: { sourceCIDRs: ['10.0.0.0/8'], destinationCIDRs: [], sourcePorts: [], destinationPorts: [{ start: 443, end: 443 }] }, translated: { sourceCIDRs: ['fd00::/64'], destinationCIDRs: [], sourcePorts: [], destinationPorts: [] } });
  t.equal(config.log.recordsPerSecond, 50);
  t.equal(config.log.burst, 10);
  t.same(config.log.exclude[0]!.protocols, ['icmp']);
});

t.test('every bad input is named by its path and value', async (t) => {
  t.same(errorsOf({ ...CONTROLLER, namespace: '', externalNetwork: 5 }), [
    'config file namespace="": required (the controller writes it)',
    'config file externalNetwork="5": expected a string',
  ]);
  t.same(errorsOf(withLog({ enabled: 'yes', events: ['start', 'begin', 'start'], rateLimit: { recordsPerSecond: 0, burst: 2_000_000 } })), [
    'config file observability.conntrack.log.enabled="yes": expected true or false',
    'config file observability.conntrack.log.events="3 items": at most 2 items',
    'config file observability.conntrack.log.events[1]="begin": expected one of start, end',
    'config file observability.conntrack.log.events[2]="start": listed twice',
    'config file observability.conntrack.log.rateLimit.burst="2000000": out of range 1-1000000',
  ], 'recordsPerSecond 0 is unset (Go omitempty), not an error');
  t.same(errorsOf(withLog({ enabled: true, rateLimit: { recordsPerSecond: 1.5 } })), ['config file observability.conntrack.log.rateLimit.recordsPerSecond="1.5": expected an integer 1-100000']);
  const rule = {
    addressFamilies: ['ipv5'], protocols: ['tcp', 'quic'], natTypes: ['masquerade'],
    original: { sourceCIDRs: ['10.0.0.0/33', '10.1.0.1'], sourcePorts: [{ start: 80, end: 10 }, { start: 0, end: 70000 }, { start: 5 }] },
    translated: { destinationCIDRs: 'fd00::/8' },
  };
  t.same(errorsOf(withLog({ enabled: true, filters: { include: [rule] } })), [
    'config file observability.conntrack.log.filters.include[0].addressFamilies[0]="ipv5": expected one of ipv4, ipv6',
    'config file observability.conntrack.log.filters.include[0].protocols[1]="quic": expected one of tcp, udp, sctp, icmp, icmpv6, other',
    'config file observability.conntrack.log.filters.include[0].natTypes[0]="masquerade": expected one of snat, dnat, snat_dnat',
    'config file observability.conntrack.log.filters.include[0].original.sourceCIDRs[0]="10.0.0.0/33": not a CIDR: prefix /33 is out of range for IPv4 (0-32)',
    'config file observability.conntrack.log.filters.include[0].original.sourceCIDRs[1]="10.1.0.1": not a CIDR: a CIDR needs a prefix length ("/N")',
    'config file observability.conntrack.log.filters.include[0].original.sourcePorts[0]="{\\"start\\":80,\\"end\\":10}": start must not be greater than end',
    'config file observability.conntrack.log.filters.include[0].original.sourcePorts[1].end="70000": out of range 0-65535',
    'config file observability.conntrack.log.filters.include[0].original.sourcePorts[2]="{\\"start\\":5}": a port range needs start and end',
    'config file observability.conntrack.log.filters.include[0].translated.destinationCIDRs="fd00::/8": expected a list',
  ]);
  t.same(errorsOf(withLog({ enabled: true, filters: { exclude: Array.from({ length: 65 }, () => ({})) } })), ['config file observability.conntrack.log.filters.exclude="65 items": at most 64 items']);
});

t.test('not JSON, not an object, unknown keys', async (t) => {
  t.throws(() => parseObserverConfig('{"namespace": "a",\n  "name": }', '/etc/kube-ovn-observer/config.json'), { message: /config file \/etc\/kube-ovn-observer\/config.json="": not valid JSON at line 2, column 11/ });
  t.throws(() => parseObserverConfig('[1]', '/c.json'), { message: /config file \/c.json="\[1\]": expected a JSON object/ });
  const { unknownKeys } = parseObserverConfig(JSON.stringify({ ...CONTROLLER, colour: 1, observability: { ...CONTROLLER.observability, sampling: {} } }), '/c.json');
  t.same(unknownKeys, ['colour', 'observability.sampling'], 'a newer controller\'s keys are reported, not fatal');
});

t.test('flags as Go\'s flag package parses upstream\'s', async (t) => {
  t.same(parseObserverFlags([]), { config: '/etc/kube-ovn-observer/config.json', networkStatus: '/etc/podinfo/network-status', listenAddress: ':10666', healthCheck: false, help: false });
  // The controller's launcher, the e2e's isolation run, and Go's other spellings.
  t.match(parseObserverFlags(['--config', '/etc/kube-ovn-observer/config.json', '--network-status', '/etc/podinfo/network-status']), { config: '/etc/kube-ovn-observer/config.json' });
  t.match(parseObserverFlags(['--config', '/c', '--network-status', '/does-not-exist', '--listen-address', '127.0.0.1:10667']), { networkStatus: '/does-not-exist', listenAddress: '127.0.0.1:10667' });
  t.match(parseObserverFlags(['-config=/x', '-health-check']), { config: '/x', healthCheck: true });
  t.match(parseObserverFlags(['--health-check=false']), { healthCheck: false });
  const bad = (argv: string[]) => {
    try {
      parseObserverFlags(argv);
    } catch (err) {
      return formatConfigErrors((err as InputError).errors);
    }
    return '';
  };
  t.equal(bad(['--colour', 'x']), 'flag --colour="": unknown flag');
  t.equal(bad(['--listen-address', '10666']), 'flag --listen-address="10666": invalid listen address "10666": no port (use ":PORT", "HOST:PORT" or "[IPv6]:PORT")');
  t.equal(bad(['--config=']), 'flag --config="": must not be empty');
  t.equal(bad(['--health-check=maybe']), 'flag --health-check="maybe": expected true or false');
  t.equal(bad(['run']), 'flag run="run": unexpected argument (the observer takes flags only)');
});
