// Folders of agent/ form layers: nothing reaches back up (docs/README.md, "Code layout"). This test
// reads every import in agent/**/*.ts (static, `export ... from`, dynamic `import()`, including a
// template's static prefix) and fails on any cycle between folders, naming the files on each edge.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const agent = path.join(root, 'agent');

/**
 * Folder edges that are known cycles, each removed by the branch that breaks it. Keep this empty
 * otherwise: a new cycle is a design problem, not an entry here.
 */
const ALLOWED_EDGES: Record<string, string> = {};

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return name.endsWith('.ts') ? [p] : [];
  });
}

/** Top folder under agent/ ("." for agent/cli.ts and agent/main.ts). */
const folderOf = (file: string): string => path.relative(agent, file).split(path.sep).slice(0, -1)[0] ?? '.';

// `from './x.js'`, `import './x.js'`, `import('./x.js')` and `import(`./commands/${f}.js`)`.
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"`])(\.[^'"`$]*)/g;

type Edges = Map<string, Map<string, string[]>>;

function folderEdges(): Edges {
  const edges: Edges = new Map();
  for (const file of tsFiles(agent)) {
    const from = folderOf(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = path.resolve(path.dirname(file), m[2]!);
      if (!target.startsWith(agent + path.sep)) continue;
      // A template's prefix names a folder ("./commands/"), a plain specifier a file.
      const to = m[1] === '`' && m[2]!.endsWith('/') ? path.relative(agent, target).split(path.sep)[0]! : folderOf(target);
      if (to === from) continue;
      const byTarget = edges.get(from) ?? new Map<string, string[]>();
      edges.set(from, byTarget);
      byTarget.set(to, [...(byTarget.get(to) ?? []), `${path.relative(root, file)} imports ${m[2]}`]);
    }
  }
  return edges;
}

/** One cycle through each strongly connected component (Tarjan), as a folder list a -> b -> ... -> a. */
function cycles(edges: Edges): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const out: string[][] = [];
  const next = (v: string): string[] => [...(edges.get(v)?.keys() ?? [])];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      scc.push(w);
      if (w === v) break;
    }
    if (scc.length > 1) out.push(shortestCycle(v, new Set(scc), next));
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** Breadth-first path from `start` back to itself inside its component. */
function shortestCycle(start: string, scc: Set<string>, next: (v: string) => string[]): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of next(v).filter((x) => scc.has(x))) {
      if (w === start) {
        const back = [start];
        for (let x = v; x !== start; x = parent.get(x)!) back.unshift(x);
        return [start, ...back];
      }
      if (!parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

function reaches(edges: Edges, from: string, to: string): boolean {
  const seen = new Set([from]);
  const todo = [from];
  while (todo.length > 0) {
    for (const w of edges.get(todo.pop()!)?.keys() ?? []) {
      if (w === to) return true;
      if (!seen.has(w)) {
        seen.add(w);
        todo.push(w);
      }
    }
  }
  return false;
}

function withoutAllowed(edges: Edges): Edges {
  const out: Edges = new Map();
  for (const [from, targets] of edges) {
    out.set(from, new Map([...targets].filter(([to]) => !(`${from} -> ${to}` in ALLOWED_EDGES))));
  }
  return out;
}

function describe(cycle: string[], edges: Edges): string {
  const steps = cycle.slice(1).map((to, i) => {
    const from = cycle[i]!;
    return `  ${from} -> ${to}: ${edges.get(from)!.get(to)!.join('; ')}`;
  });
  return `${cycle.join(' -> ')}\n${steps.join('\n')}`;
}

const edges = folderEdges();

t.test('the import scan sees the folders and the on-demand verb imports', async (t) => {
  t.ok(edges.get('daemon')?.has('config'), 'daemon -> config (static import)');
  t.ok(edges.get('.')?.has('commands'), 'cli.ts -> commands (template import of agent/commands/<verb>.js)');
  t.ok(edges.get('daemon')?.has('reconcile'), 'daemon -> reconcile (dynamic import in real-ports.ts)');
  t.ok(edges.get('dataplane')?.has('native') && edges.get('snat')?.has('native'), 'dataplane and snat -> native (the netlink readers)');
});

t.test('agent/native/ is a leaf; the netlink readers are not reached through bfd/', async (t) => {
  t.same([...(edges.get('native')?.keys() ?? [])], ['lib'], 'native imports lib only');
  t.notOk(edges.get('dataplane')?.has('bfd'), 'dataplane does not import bfd');
  t.notOk(edges.get('snat')?.has('bfd'), 'snat does not import bfd');
});

t.test('the cycle finder finds a planted cycle and names its files', async (t) => {
  const planted: Edges = new Map([
    ['a', new Map([['b', ['agent/a/x.ts imports ../b/y.js']]])],
    ['b', new Map([['c', ['agent/b/y.ts imports ../c/z.js']]])],
    ['c', new Map([['a', ['agent/c/z.ts imports ../a/x.js']]])],
  ]);
  const found = cycles(planted);
  t.same(found, [['a', 'b', 'c', 'a']]);
  t.match(describe(found[0]!, planted), /c -> a: agent\/c\/z\.ts imports \.\.\/a\/x\.js/);
});

t.test('no import cycle between folders of agent/', async (t) => {
  const found = cycles(withoutAllowed(edges));
  t.same(found.map((c) => describe(c, edges)), [], 'folder-level cycles (break them with a leaf module for the shared vocabulary)');
});

t.test('every allow-list entry is still a real edge on a cycle', async (t) => {
  for (const edge of Object.keys(ALLOWED_EDGES)) {
    const [from, to] = edge.split(' -> ') as [string, string];
    t.ok(edges.get(from)?.has(to), `${edge} still exists (else delete its entry)`);
    t.ok(reaches(edges, to, from), `${edge} is still on a cycle (else delete its entry)`);
  }
});
