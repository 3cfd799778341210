// The repository's Dockerfile, parsed just enough for the tests that check the image without an
// engine: its stages, and each stage's WORKDIR and COPY instructions.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Copy {
  /** The stage copied from (COPY --from=), or undefined for the build context. */
  from: string | undefined;
  sources: string[];
  dest: string;
}

export interface Stage {
  from: string;
  name: string | undefined;
  workdir: string | undefined;
  instructions: string[];
  copies: Copy[];
}

export const repoRoot = join(import.meta.dirname, '..', '..');
export const dockerfileText = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
/** One string per instruction: continuation lines joined, comments and blank lines dropped. */
export const instructions = dockerfileText.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

function parseCopy(line: string): Copy {
  const words = line.split(/\s+/).slice(1);
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const args = words.filter((w) => !w.startsWith('--'));
  return { from, sources: args.slice(0, -1), dest: args.at(-1)! };
}

export const stages: Stage[] = [];
for (const line of instructions) {
  const [op, ...rest] = line.split(/\s+/);
  if (/^FROM$/i.test(op)) {
    const as = rest.findIndex((w) => /^AS$/i.test(w));
    stages.push({ from: rest[0], name: as >= 0 ? rest[as + 1] : undefined, workdir: undefined, instructions: [], copies: [] });
    continue;
  }
  const stage = stages.at(-1);
  if (!stage) continue; // ARG before the first FROM
  stage.instructions.push(line);
  if (/^WORKDIR$/i.test(op)) stage.workdir = rest[0];
  if (/^COPY$/i.test(op)) stage.copies.push(parseCopy(line));
}

/** Every COPY of the Dockerfile, all stages. */
export const copies: Copy[] = stages.flatMap((s) => s.copies);
/** The final (runtime) stage. */
export const runtimeStage: Stage = stages.at(-1)!;
