// Writes the dashboard JSON as a TypeScript object literal checked with `satisfies`. Importing the
// .json file instead would widen every string to `string` (so no enum or literal union could match)
// and would skip excess-property checks, letting a misspelled key through.
import { readFileSync, writeFileSync } from 'node:fs';

const [, , jsonPath, outPath] = process.argv;
const dashboard = JSON.parse(readFileSync(jsonPath, 'utf8'));
writeFileSync(
  outPath,
  `import type { WhisperDashboard } from '../dashboard-schema';\n` +
    `export const dashboard = ${JSON.stringify(dashboard, null, 2)} satisfies WhisperDashboard;\n`,
);
