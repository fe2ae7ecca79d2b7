// Regenerates benchmarks/scenarios/scenario.schema.json from the zod schema of scenario files
// (contracts/scenario-file.ts): `npm run schema`. test/unit/scenario-files.test.ts fails when the
// committed file differs from what this writes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../paths.js';
import { SCENARIO_FILE_SCHEMA_NAME, scenarioFileJsonSchema } from '../contracts/scenario-file.js';

export const SCENARIO_SCHEMA_FILE = join(PROJECT_ROOT, 'benchmarks', 'scenarios', SCENARIO_FILE_SCHEMA_NAME);

writeFileSync(SCENARIO_SCHEMA_FILE, JSON.stringify(scenarioFileJsonSchema(), null, 2) + '\n');
console.log(`wrote ${SCENARIO_SCHEMA_FILE}`);
