// Typed wrapper around scripts/pod/pod.sh for the container e2e test and benchmark: the gateway
// Pod as Kube-OVN's controller writes it, run with podman from the image (`make image`) in a lab
// replica's network namespace. Every call is an argument array (no shell); the script owns the
// containers and state.
import { execa, type Result } from 'execa';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Run from the source (tests) or from dist/scripts/pod (benchmarks): the script stays in the source.
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = existsSync(join(HERE, 'pod.sh')) ? resolve(HERE, '../..') : resolve(HERE, '../../..');
export const POD_SH = join(ROOT, 'scripts/pod/pod.sh');
/** A prebuilt image to test as it is (e.g. built by an earlier CI step); unset: `make image`. */
const PREBUILT = process.env.EGRESS_AGENT_TEST_IMAGE;
export const IMAGE = PREBUILT ?? process.env.IMAGE ?? 'localhost/egress-agent:dev';

/**
 * The image to test. `make image` every time: podman's layer cache makes it a few seconds when
 * nothing changed, and an image from another revision or work tree would test other code.
 */
export async function ensureImage(): Promise<string> {
  if (PREBUILT) {
    await execa('podman', ['image', 'exists', PREBUILT]).catch(() => {
      throw new Error(`EGRESS_AGENT_TEST_IMAGE=${PREBUILT}: no such image`);
    });
    return PREBUILT;
  }
  await execa('make', ['image', `IMAGE=${IMAGE}`], { cwd: ROOT, stdio: ['ignore', process.stderr, process.stderr] });
  return IMAGE;
}

/** Linux capability bits (include/uapi/linux/capability.h). */
export const CAP = { NET_BIND_SERVICE: 10, NET_ADMIN: 12, NET_RAW: 13 } as const;
export const capMask = (...bits: number[]): bigint => bits.reduce((m, b) => m | (1n << BigInt(b)), 0n);

/** The capability sets and ids of a process, from /proc/PID/status. */
export interface ProcCaps {
  uid: string;
  inh: bigint;
  prm: bigint;
  eff: bigint;
  bnd: bigint;
  amb: bigint;
  noNewPrivs: string;
  seccomp: string;
}

export function parseProcStatus(text: string): ProcCaps {
  const field = (k: string): string => {
    const m = new RegExp(`^${k}:\\s+(.*)$`, 'm').exec(text);
    if (!m) throw new Error(`/proc status without ${k}: ${text.slice(0, 200)}`);
    return m[1]!.trim();
  };
  const hex = (k: string): bigint => BigInt(`0x${field(k)}`);
  return {
    uid: field('Uid'), inh: hex('CapInh'), prm: hex('CapPrm'), eff: hex('CapEff'), bnd: hex('CapBnd'), amb: hex('CapAmb'),
    noNewPrivs: field('NoNewPrivs'), seccomp: field('Seccomp'),
  };
}

export class Pod {
  constructor(readonly name: string) {}

  run(command: string, args: readonly string[] = [], reject = true): Promise<Result> {
    return execa(POD_SH, [command, this.name, ...args], { reject, stdin: 'ignore', env: { IMAGE } });
  }

  /** emptyDirs, the init container (rejects when it fails), then the bfdd container. */
  async create(netns: string, env: Record<string, string>): Promise<void> {
    await this.withFiles({ env: Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join('') }, (f) => this.run('create', ['--netns', netns, '--env-file', f.env!]));
  }

  /** Recreates the bfdd container (kubelet after a crash; the emptyDirs stay). */
  async start(): Promise<void> {
    await this.run('start');
  }

  async kill(signal = 'KILL'): Promise<void> {
    await this.run('kill', [signal]);
  }

  /** `podman stop -t 30`; resolves with the container's exit code. */
  async stop(): Promise<number> {
    return Number(String((await this.run('stop')).stdout).trim());
  }

  /** kubelet's exec probe; resolves with its exit code and output. */
  probe(what: 'live' | 'ready' | 'status'): Promise<Result> {
    return this.run('probe', [what], false);
  }

  /** kubelet's httpGet /livez on the Pod IP: the HTTP status ('000' when nothing answers). */
  async livez(): Promise<string> {
    return String((await this.run('livez')).stdout).trim();
  }

  /** CMD in the bfdd container as kubectl exec runs it (uid 65534, the CRI's capability sets). */
  exec(argv: readonly string[]): Promise<Result> {
    return this.run('exec', argv, false);
  }

  async inspect(format: string): Promise<string> {
    return String((await this.run('inspect', [format])).stdout).trim();
  }

  async logs(): Promise<string> {
    const r = await this.run('logs', [], false);
    return `${String(r.stdout)}${String(r.stderr)}`;
  }

  /**
   * Kube-OVN v1.17's observability sidecar, as the controller writes it: `config` becomes the
   * ConfigMap's config.json, `networkStatus` the downward-API network-status file.
   */
  async observer(config: object, networkStatus: object, node = 'kube-ovn-worker'): Promise<void> {
    await this.withFiles({ config: JSON.stringify(config), status: JSON.stringify(networkStatus) }, (f) =>
      this.run('observer', ['--config', f.config!, '--network-status', f.status!, '--node', node]));
  }

  /** kubelet's ConfigMap update of config.json (atomic rename). */
  async observerConfig(config: object): Promise<void> {
    await this.withFiles({ config: JSON.stringify(config) }, (f) => this.run('observer-config', [f.config!]));
  }

  /** The sidecar's liveness exec probe. */
  observerProbe(): Promise<Result> {
    return this.run('observer-probe', [], false);
  }

  /** CMD in the sidecar as `kubectl exec -c observability` runs it. */
  observerExec(argv: readonly string[]): Promise<Result> {
    return this.run('observer-exec', argv, false);
  }

  async observerKill(signal = 'TERM'): Promise<void> {
    await this.run('observer-kill', [signal]);
  }

  /** The sidecar's container log: stdout (flow records) and stderr (diagnostics), as `kubectl logs` shows both. */
  async observerLogs(): Promise<{ stdout: string; stderr: string }> {
    const r = await this.run('observer-logs', [], false);
    return { stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  async observerInspect(format: string): Promise<string> {
    return String((await this.run('observer-inspect', [format])).stdout).trim();
  }

  async rm(): Promise<void> {
    await this.run('rm');
  }

  /** Polls fn until it returns non-null; on timeout rejects naming `what`, with the container's log tail. */
  async until<T>(what: string, timeoutMs: number, fn: () => Promise<T | null>, periodMs = 500): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await fn();
      if (r !== null) return r;
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; container log:\n${(await this.logs()).slice(-4000)}`);
      await new Promise((res) => setTimeout(res, periodMs));
    }
  }

  private async withFiles<T>(files: Record<string, string>, fn: (paths: Record<string, string>) => Promise<T>): Promise<T> {
    const dir = mkdtempSync(join(tmpdir(), 'vea-pod-'));
    try {
      const paths = Object.fromEntries(Object.entries(files).map(([k, text]) => {
        writeFileSync(join(dir, k), text);
        return [k, join(dir, k)];
      }));
      return await fn(paths);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** A Pod for a test, removed in teardown (and a stale one with the same name first). */
export async function withPod(t: { teardown(fn: () => unknown): void }, name: string): Promise<Pod> {
  const pod = new Pod(name);
  t.teardown(() => pod.rm());
  await pod.rm();
  return pod;
}
