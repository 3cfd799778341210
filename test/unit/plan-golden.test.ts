// Golden outputs of the planner and the iptables-restore renderer for the scenarios in
// test/golden/plan-inputs.json. After an intended change: UPDATE_GOLDEN=1 npx tap run
// --disable-coverage test/unit/plan-golden.test.ts, then review the diff of test/golden/.
// The iptables-save-*.txt files were captured from the real kernel (iptables 1.8.9 nft) after
// restoring the rendered text in a scratch netns: they prove the canonical rule strings.
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { plan, renderIptablesRestore, parseIptablesSave, diffIptables } from '../../agent/plan/index.js';
import type { GatewayConfig } from '../../agent/config/types.js';
import type { Facts } from '../../agent/plan/types.js';

const golden = (name: string): string => fileURLToPath(new URL(`../golden/${name}`, import.meta.url));
const inputs = JSON.parse(readFileSync(golden('plan-inputs.json'), 'utf8')) as Record<string, { config: GatewayConfig; facts: Facts }>;

function matchGolden(tt: Test, file: string, actual: string): void {
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden(file), actual);
  tt.equal(actual, readFileSync(golden(file), 'utf8'), `matches test/golden/${file}`);
}

for (const [name, { config, facts }] of Object.entries(inputs)) {
  t.test(`scenario ${name}`, async (tt) => {
    const desired = plan(config, facts);
    matchGolden(tt, `plan-${name}.json`, `${JSON.stringify(desired, null, 2)}\n`);
    for (const ipt of desired.iptables) {
      matchGolden(tt, `iptables-restore-${name}-v${ipt.family}.txt`, renderIptablesRestore(ipt, { tables: {} }));
      // The strings we plan are the strings the kernel prints back.
      const captured = parseIptablesSave(readFileSync(golden(`iptables-save-${name}-v${ipt.family}.txt`), 'utf8'));
      tt.same(diffIptables(ipt, captured), [], `v${ipt.family}: no drift against the captured iptables-save`);
    }
  });
}
