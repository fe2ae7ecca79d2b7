// A scenario file (xdplab run FILE, benchmarks/scenarios/*.json): the scenario as JSON (the
// input of ScenarioSchema: defaults may be left out) with a title and a description. The
// committed JSON Schema benchmarks/scenarios/scenario.schema.json is generated from this
// (npm run schema) and a unit test fails when the two drift apart.
import { z } from 'zod';
import { ScenarioSchema } from './scenario.js';

export const SCENARIO_FILE_SCHEMA_NAME = 'scenario.schema.json';

export const ScenarioFileSchema = ScenarioSchema.extend({
  /** Where editors find the schema (the relative path of scenario.schema.json, usually). */
  $schema: z.string().min(1).max(4096).optional().meta({ description: 'the JSON Schema of this file (editors use it): scenario.schema.json' }),
  title: z.string().min(1).max(200).meta({ description: 'what the scenario measures, one line (shown in the plan)' }),
  description: z.string().max(10_000).optional().meta({ description: 'why and how, free text' }),
}).strict();

/** The file as written (defaults not yet applied). */
export type ScenarioFileInput = z.input<typeof ScenarioFileSchema>;
export type ScenarioFile = z.infer<typeof ScenarioFileSchema>;

/** The fields of a file that are not the scenario's. */
export const FILE_ONLY_KEYS = ['$schema', 'title', 'description'] as const;

export function scenarioFileJsonSchema(): unknown {
  const generated = z.toJSONSchema(ScenarioFileSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  return {
    $schema: generated.$schema,
    $id: 'https://xdplab.dev/schemas/scenario.schema.json',
    title: 'xdplab scenario file',
    description: 'A scenario for `xdplab run FILE`: host rows, VM rows (backends x tests) and a timeline of QMP steps. Fields left out take their defaults.',
    ...Object.fromEntries(Object.entries(generated).filter(([k]) => k !== '$schema')),
  };
}
