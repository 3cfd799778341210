// Comments cite the repo's own docs: every requirement ID used in the code is defined in
// docs/bfd-requirements.md, and nothing points at documents outside the repository.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE = /\.(ts|mjs|cc|h|c|sh)$/;

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = path.join(dir, name);
    if (statSync(path.join(root, rel)).isDirectory()) return sources(rel);
    return SOURCE.test(name) ? [rel] : [];
  });
}

const self = path.relative(root, fileURLToPath(import.meta.url));
const files = ['agent', 'native', 'scripts', 'test'].flatMap(sources).filter((f) => f !== self).concat(['Dockerfile', 'Makefile']);
// Requirement IDs as the code writes them: a family letter (or OVN) and two digits.
const ID = /\b(?:[CVDRNXTASUE]|OVN)-\d{2}\b/g;
const OUTSIDE = /\b(?:bfd|kube-ovn|npm|lab)\.md\b|LAB-CONTRACT|shared\/reference/;

t.test('every requirement ID cited in the code has a heading in docs/bfd-requirements.md', async (t) => {
  const defined = new Set(
    readFileSync(path.join(root, 'docs/bfd-requirements.md'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('#'))
      .flatMap((l) => l.match(ID) ?? []),
  );
  t.ok(defined.size > 50, `docs/bfd-requirements.md defines the checklist (${defined.size} IDs)`);
  const missing: string[] = [];
  for (const f of files) {
    for (const id of readFileSync(path.join(root, f), 'utf8').match(ID) ?? []) {
      if (!defined.has(id)) missing.push(`${f}: ${id}`);
    }
  }
  t.same([...new Set(missing)], [], 'IDs cited but not defined');
});

t.test('no comment points at a document outside the repository', async (t) => {
  const outside = files.filter((f) => OUTSIDE.test(readFileSync(path.join(root, f), 'utf8')));
  t.same(outside, [], 'files citing bfd.md, kube-ovn.md, npm.md, lab.md, LAB-CONTRACT or shared/reference');
});
