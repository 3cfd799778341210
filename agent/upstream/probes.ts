// One run of one probe target through the external interface. ICMP uses iputils `ping` bound to
// the interface (-I; needs CAP_NET_RAW, which the gateway Pod has); TCP and HTTP bind to the
// interface's address. Every run ends within the target's timeout and never throws.
import http from 'node:http';
import net from 'node:net';
import { execa } from 'execa';
import type { ProbeTarget } from '../config/upstream-options.js';

export interface ProbeOutcome {
  ok: boolean;
  /** What happened, for reasons and logs: "reply in 0.4 ms", "timeout after 500 ms", "ECONNREFUSED". */
  detail: string;
  durationMs: number;
}

export interface ProbeContext {
  interface: string;
  /** Local address for TCP/HTTP (the interface's address of the probe's family). */
  source?: string;
  /** Aborted when the monitor stops. */
  signal: AbortSignal;
}

const ms = (start: number): number => Math.round((performance.now() - start) * 10) / 10;

async function icmp(t: ProbeTarget, ctx: ProbeContext, start: number): Promise<ProbeOutcome> {
  const waitS = (t.timeoutMs / 1000).toFixed(3);
  const r = await execa('ping', ['-n', `-${t.family}`, '-c', '1', '-W', waitS, '-I', ctx.interface, t.address], {
    reject: false, cancelSignal: ctx.signal, timeout: t.timeoutMs + 1000, stdin: 'ignore',
  });
  if (r.exitCode === 0) return { ok: true, detail: `reply in ${ms(start)} ms`, durationMs: ms(start) };
  // 1: no reply, or an ICMP error came back ("From ... Destination unreachable: ...", worth
  // reporting as is); 2 and others: could not send (e.g. "connect: Network is unreachable").
  const icmpError = String(r.stdout ?? '').split('\n').find((l) => l.startsWith('From '));
  const why = r.exitCode === 1
    ? (icmpError?.trim() ?? `no reply within ${t.timeoutMs} ms`)
    : (String(r.stderr ?? '').trim().split('\n').pop() || r.shortMessage || `ping exited with ${r.exitCode}`);
  return { ok: false, detail: why, durationMs: ms(start) };
}

function tcp(t: ProbeTarget & { port: number }, ctx: ProbeContext, start: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: t.address, port: t.port, localAddress: ctx.source, family: t.family });
    const done = (ok: boolean, detail: string): void => {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve({ ok, detail, durationMs: ms(start) });
    };
    const onAbort = (): void => done(false, 'stopped');
    const timer = setTimeout(() => done(false, `no connection within ${t.timeoutMs} ms`), t.timeoutMs);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => done(true, `connected in ${ms(start)} ms`));
    sock.once('error', (err: NodeJS.ErrnoException) => done(false, err.code ?? err.message));
  });
}

function httpGet(t: ProbeTarget & { kind: 'http' }, ctx: ProbeContext, start: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(t.timeoutMs)]);
    let settled = false;
    const done = (ok: boolean, detail: string): void => {
      if (settled) return;
      settled = true;
      resolve({ ok, detail, durationMs: ms(start) });
    };
    const req = http.request({
      host: t.address, port: t.port, path: t.path, method: 'GET', family: t.family, localAddress: ctx.source,
      headers: { host: t.host, 'user-agent': 'vpc-egress-agent-upstream-probe', connection: 'close' }, agent: false, signal,
    }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      done(code >= 200 && code < 400, `HTTP ${code} in ${ms(start)} ms`);
    });
    req.once('error', (err: NodeJS.ErrnoException) => {
      if (ctx.signal.aborted) done(false, 'stopped');
      else if (signal.aborted) done(false, `no response within ${t.timeoutMs} ms`);
      else done(false, err.code ?? err.message);
    });
    req.end();
  });
}

export async function runProbe(t: ProbeTarget, ctx: ProbeContext): Promise<ProbeOutcome> {
  const start = performance.now();
  try {
    switch (t.kind) {
      case 'icmp':
        return await icmp(t, ctx, start);
      case 'tcp':
        return await tcp(t, ctx, start);
      case 'http':
        return await httpGet(t, ctx, start);
    }
  } catch (err) {
    return { ok: false, detail: `probe error: ${(err as Error).message}`, durationMs: ms(start) };
  }
}
