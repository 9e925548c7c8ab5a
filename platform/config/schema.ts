import { PROFILE_NAMES } from '../../core/profiles/types.js';
import { schemaOf, type ConfigOf } from './settings.js';
import { VARIABLES } from './variables.js';

/**
 * The one validated configuration object (node-oidc-provider style). Its fields, their variables,
 * defaults and documentation are the table in `variables.ts`; this module only derives the schema
 * and the type from it.
 */
export { PROFILE_NAMES };
export { REVOCATION_CHECKS, TRACES_SAMPLERS, type RevocationCheckName } from './variables.js';

/** The TypeBox schema of {@link Config}, derived from the table (each field's own schema, optional where it has no default). */
export const ConfigSchema = schemaOf(VARIABLES);

export type Config = ConfigOf<typeof VARIABLES>;
export type ProfileName = Config['profile'];

