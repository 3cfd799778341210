import t from 'tap';
import { formatListenAddress, listenHosts, parseListenAddress } from '../../agent/lib/listen-address.js';

t.test('accepted forms (Go net.Listen style, as BFDD_METRICS_ADDRESS)', async (t) => {
  t.same(parseListenAddress(':10669'), { host: undefined, port: 10669 });
  t.same(parseListenAddress('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  t.same(parseListenAddress('[::1]:10669'), { host: '::1', port: 10669 });
  t.same(parseListenAddress('localhost:0'), { host: 'localhost', port: 0 });
  t.same(parseListenAddress('[fd00:10:16::c]:65535'), { host: 'fd00:10:16::c', port: 65535 });
});

t.test('rejected forms name the input and the problem', async (t) => {
  t.throws(() => parseListenAddress('10669'), /invalid listen address "10669": no port/);
  t.throws(() => parseListenAddress(':65536'), /port "65536" is not 0-65535/);
  t.throws(() => parseListenAddress(':http'), /port "http"/);
  t.throws(() => parseListenAddress('::1:80'), /an IPv6 host must be in brackets/);
  t.throws(() => parseListenAddress('[10.0.0.1]:80'), /10.0.0.1 is not an IPv6 address/);
  t.throws(() => parseListenAddress('localhost:'), /port ""/);
  t.throws(() => parseListenAddress('[]:10669'), /empty brackets/);
  t.throws(() => parseListenAddress('example.com:80'), /host "example.com" is not an IPv4 address/);
});

t.test('format round-trips', async (t) => {
  for (const a of [':10669', '127.0.0.1:1', '[::1]:2']) {
    const p = parseListenAddress(a);
    t.equal(formatListenAddress(p.host, p.port), a);
  }
});

t.test('hosts bound: ":PORT" = loopback and the Pod\'s own addresses, never every interface', async (t) => {
  t.same(listenHosts(parseListenAddress(':10669'), []), ['127.0.0.1']);
  t.same(listenHosts(parseListenAddress(':10669'), ['10.16.0.12', 'fd00:10:16::c']), ['127.0.0.1', '::1', '10.16.0.12', 'fd00:10:16::c']);
  t.same(listenHosts(parseListenAddress('0.0.0.0:10669'), ['10.16.0.12']), ['0.0.0.0'], 'an explicit wildcard is an opt-in');
  t.same(listenHosts(parseListenAddress('[::1]:1'), ['10.16.0.12']), ['::1']);
});
