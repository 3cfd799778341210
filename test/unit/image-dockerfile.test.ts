// Checks that need no container engine (`make image` builds the image for real): every file the
// Dockerfile copies from the repository exists (and is executable where the image runs it), every
// build output it copies is one the build produces, and the image keeps Kube-OVN's contract
// (paths, no USER, file capabilities, entrypoint). Also the deploy/ manifests' essentials.
import t from 'tap';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { copies, dockerfileText as dockerfile, instructions, repoRoot as root, stages } from '../helpers/dockerfile.js';

const makefile = readFileSync(join(root, 'Makefile'), 'utf8') + readFileSync(join(root, 'native/probe/probe.mk'), 'utf8');
const buildScript = instructions.filter((l) => /^RUN\s/.test(l)).join('\n');

const executable = (p: string) => {
  try {
    accessSync(p, constants.X_OK);
    return (statSync(p).mode & 0o111) !== 0;
  } catch {
    return false;
  }
};

t.test('every repository file the Dockerfile copies exists', async (t) => {
  const fromRepo = copies.filter((c) => !c.from);
  t.ok(fromRepo.some((c) => c.dest.startsWith('/kube-ovn')) && fromRepo.some((c) => c.sources.includes('agent')), 'both stages copy from the repository');
  for (const c of fromRepo) {
    for (const src of c.sources) t.ok(existsSync(join(root, src)), `${src} exists`);
  }
});

t.test('what the runtime stage runs is executable in the repository', async (t) => {
  for (const c of copies.filter((x) => !x.from && (x.dest.startsWith('/kube-ovn') || x.dest.startsWith('/usr/local/bin')))) {
    for (const src of c.sources) t.ok(executable(join(root, src)), `${src} is executable`);
  }
  for (const script of ['init-vpc-egress-gateway.sh', 'start-bfdd.sh', 'bfdd-prestart.sh', 'bfdd-healthcheck.sh']) {
    const path = join(root, 'scripts/kube-ovn', script);
    t.ok(executable(path), `${script} executable`);
    t.match(readFileSync(path, 'utf8'), /^#!\/bin\/bash\n/, `${script} is a bash script (Kube-OVN runs it with bash)`);
  }
});

t.test('build outputs copied from the build stage are produced by it', async (t) => {
  const built = copies.filter((c) => c.from === 'build').flatMap((c) => c.sources);
  t.ok(built.length >= 6);
  for (const src of built) {
    t.ok(src.startsWith('/src/'), `${src} comes from the build workdir`);
    const rel = src.slice('/src/'.length);
    if (rel.startsWith('native/out/')) {
      t.match(makefile, new RegExp(`\\$\\(PROBE_OUT\\)/${rel.slice('native/out/'.length)}:`), `${rel} has a build rule`);
      t.match(buildScript, /make [^\n]*\bprobe\b/, 'the build stage runs make probe');
    } else if (rel === 'dist') {
      // tsc (dist/.stamp) and the bundle the entrypoint runs (deploy/image/egress-agent).
      t.match(buildScript, /make [^\n]*dist\/\.stamp [^\n]*\bbundle\b/, 'the build stage runs make dist/.stamp bundle');
      t.match(makefile, /^\$\(BUNDLE\): dist\/\.stamp$/m, 'the bundle has a build rule');
      t.match(makefile, /^BUNDLE := dist\/egress-agent\.cjs$/m);
      t.match(makefile, /^bundle: \$\(BUNDLE\) \$\(BOOT\)$/m, 'make bundle also builds the startup snapshot\'s entry');
      t.match(readFileSync(join(root, 'deploy/image/egress-agent'), 'utf8'), /\/opt\/egress-agent\/dist\/egress-agent\.cjs/, 'the entrypoint runs the bundle');
    } else if (rel === 'build/Release/egress_native.node') {
      t.match(readFileSync(join(root, 'binding.gyp'), 'utf8'), /"target_name": "egress_native"/);
      t.match(buildScript, /npm ci/);
    } else {
      t.ok(['package.json', 'node_modules'].includes(rel), `${rel} is a known input`);
    }
  }
});

t.test('Kube-OVN drop-in paths, user, capabilities, entrypoint', async (t) => {
  const dests = copies.flatMap((c) => c.sources.map((s) => (c.dest.endsWith('/') ? c.dest + s.split('/').at(-1) : c.dest)));
  for (const p of ['/kube-ovn/init-vpc-egress-gateway.sh', '/kube-ovn/kube-ovn-bfdd-supervisor', '/kube-ovn/start-bfdd.sh',
    '/kube-ovn/bfdd-prestart.sh', '/kube-ovn/bfdd-healthcheck.sh', '/usr/local/bin/bfdd-control', '/usr/local/bin/egress-agent-probe',
    '/usr/local/bin/egress-agent', '/kube-ovn/vpc-egress-gateway-observer']) {
    t.ok(dests.includes(p), `${p} installed`);
  }
  // Upstream's node images by default; `make image` passes local stand-ins (scripts/image/bases.sh).
  t.match(dockerfile, /^ARG BUILD_BASE=node:20-bookworm$/m);
  t.match(dockerfile, /^ARG RUNTIME_BASE=node:20-bookworm-slim$/m);
  t.same(stages.map((s) => [s.from, s.name]), [['${BUILD_BASE}', 'build'], ['${RUNTIME_BASE}', undefined]]);
  t.match(dockerfile, /apt-get install -y --no-install-recommends bash iproute2 iptables ipset conntrack/);
  // SNAT records read conntrack events as uid 65534: the tool needs NET_ADMIN, the record dir our uid.
  t.match(dockerfile, /setcap cap_net_admin\+ep \/usr\/sbin\/conntrack/);
  t.match(dockerfile, /chown 65534:65534 .*\/var\/log\/egress-agent\/snat/);
  // Kube-OVN's init container runs as root only because the image sets no USER (it chmods the
  // root-owned emptyDirs); the controller sets runAsUser 65534 on the other containers itself.
  t.notMatch(dockerfile, /^USER\s/m, 'no USER');
  t.match(dockerfile, /setcap cap_net_admin,cap_net_raw\+ep \/opt\/egress-agent\/node/);
  // The startup page release (MADV_PAGEOUT) frees file pages only for their owner: the node copy is
  // uid 65534's, chowned before setcap (chown clears file capabilities).
  const runtimeRun = instructions.filter((l) => /^RUN\s/.test(l)).find((l) => l.includes('/opt/egress-agent/node')) ?? '';
  const chown = runtimeRun.indexOf('chown 65534:65534 /opt/egress-agent/node');
  t.ok(chown > 0 && chown < runtimeRun.indexOf('setcap cap_net_admin,cap_net_raw+ep /opt/egress-agent/node'), 'node copy owned by 65534, chowned before setcap');
  t.match(dockerfile, /^ENTRYPOINT \["\/usr\/local\/bin\/egress-agent", "run"\]$/m);
  const wrapper = readFileSync(join(root, 'deploy/image/egress-agent'), 'utf8');
  t.match(wrapper, /exec \/opt\/egress-agent\/node [^\n]*\\\n\s+--snapshot-blob \/opt\/egress-agent\/dist\/egress-agent\.blob \/opt\/egress-agent\/dist\/egress-agent\.cjs "\$@"/, 'the wrapper runs the capability-bearing node from the startup snapshot');
  // The snapshot and code cache are made in the runtime stage by the node the wrapper's copy is
  // taken from (Node.js refuses a snapshot from another binary), after the package is in place.
  const startupRun = instructions.findIndex((l) => /^RUN \/usr\/local\/lib\/egress-agent\/startup-cache\.sh \/usr\/local\/bin\/node \/opt\/egress-agent\/dist$/.test(l));
  t.ok(startupRun > instructions.findIndex((l) => l.startsWith('COPY --from=build /src/dist ')), 'startup-cache.sh runs in the runtime stage, after dist/ is copied');
  t.ok(startupRun < instructions.findIndex((l) => l.includes('cp /usr/local/bin/node /opt/egress-agent/node')), 'and before the node copy the wrapper runs is taken');
  t.match(dockerfile, /chown 65534:65534 \/run\/egress-agent \/run\/kube-ovn\/bfdd-supervisor/, 'socket directories writable by the agent');
  // Kube-OVN v1.17's observability sidecar: uid 65534, NET_ADMIN only in the bounding set, so its
  // own node copy carries NET_ADMIN (conntrack events and dump); curl answers the liveness probe
  // and Kube-OVN's e2e scrapes with it.
  t.match(dockerfile, /setcap cap_net_admin\+ep \/opt\/egress-agent\/observer-node/);
  t.match(dockerfile, /apt-get install -y --no-install-recommends [^\n]*\bcurl\b/);
  const observer = readFileSync(join(root, 'deploy/image/vpc-egress-gateway-observer'), 'utf8');
  t.match(observer, /exec \/opt\/egress-agent\/observer-node [^\n]*\/opt\/egress-agent\/dist\/agent\/observer\/main\.js "\$@"/, 'the observer runs on its capability-bearing node');
  t.match(observer, /exec curl -fsS --max-time 1 [^\n]*http:\/\/127\.0\.0\.1:10666\/healthz/, '--health-check is upstream\'s GET of /healthz');
});

t.test('deploy manifests: probes use the native client, resources and securityContext set', async (t) => {
  const d = readFileSync(join(root, 'deploy/deployment.yaml'), 'utf8');
  for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) t.match(d, new RegExp(`${probe}:\\n\\s+exec: \\{ command: \\["egress-agent-probe"`));
  t.match(d, /limits: \{ cpu: 300m, memory: 64Mi \}/);
  t.match(d, /runAsUser: 65534/);
  t.match(d, /add: \["NET_ADMIN", "NET_RAW"\]/);
  t.match(d, /drop: \["ALL"\]/);
  t.match(d, /bash \/kube-ovn\/init-vpc-egress-gateway\.sh/);
  t.match(readFileSync(join(root, 'deploy/vpc-egress-gateway.yaml'), 'utf8'), /kind: VpcEgressGateway[\s\S]*image: /);
});
