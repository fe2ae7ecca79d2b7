// Regenerates benchmarks/report/report.schema.json from the zod schema: `npm run schema`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../paths.js';
import { reportJsonSchema } from '../contracts/report.js';

export const SCHEMA_FILE = join(PROJECT_ROOT, 'benchmarks', 'report', 'report.schema.json');

writeFileSync(SCHEMA_FILE, JSON.stringify(reportJsonSchema(), null, 2) + '\n');
console.log(`wrote ${SCHEMA_FILE}`);
