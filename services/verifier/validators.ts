/**
 * Loading of the custom validators (SPEC §12) from `DCR_VALIDATORS_FILE` at start-up.
 *
 * The file is a JSON array; each entry names a module that default-exports a
 * {@link CustomValidatorModule}:
 *
 * ```json
 * [{ "name": "require-software-mode-live", "module": "./require-software-mode-live.js",
 *    "enabled": true, "priority": 100, "options": { "allowTest": false }, "profiles": ["obie-3.3"] }]
 * ```
 *
 * `module` is resolved relative to the file. Any problem (unreadable file, bad JSON, wrong shape,
 * missing module, no `CustomValidatorModule` default export, options refused by `create`) is one
 * {@link ConfigurationError} naming `DCR_VALIDATORS_FILE` and the entry.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { ConfigurationError } from '../../core/domain/errors.js';
import { parseStrictJson } from '../../platform/jose/strict-json.js';
import { PROFILE_NAMES } from '../../core/profiles/index.js';
import type { CustomValidator, CustomValidatorModule, RegisteredCustomValidator } from './metadata/custom-validator.js';

export const VALIDATORS_FILE_VARIABLE = 'DCR_VALIDATORS_FILE';

/** Largest validators file read (it is a short list). */
const MAX_FILE_BYTES = 256 * 1024;

export const ValidatorEntrySchema = Type.Object(
  {
    /** Stable name, used in logs and error lines; unique in the file. */
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._-]+$' }),
    /** Path of the module, relative to the file (or absolute). */
    module: Type.String({ minLength: 1, maxLength: 1024 }),
    /** Default true; a disabled entry is checked for shape but its module is not loaded. */
    enabled: Type.Optional(Type.Boolean()),
    /** Lower runs first; ties keep the file's order. */
    priority: Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 }),
    /** Passed to the module's `create(options)`; absent: the module's `defaultOptions`. */
    options: Type.Optional(Type.Unknown()),
    /** Profiles the validator applies to; absent: all. */
    profiles: Type.Optional(Type.Array(Type.Enum(PROFILE_NAMES), { minItems: 1, uniqueItems: true })),
  },
  { additionalProperties: false },
);
export type ValidatorEntry = Static<typeof ValidatorEntrySchema>;

export const ValidatorsFileSchema = Type.Array(ValidatorEntrySchema, { maxItems: 100 });

const fileValidator = Compile(ValidatorsFileSchema);

/** An entry of the file with its module path resolved. */
export interface ResolvedValidatorEntry extends ValidatorEntry {
  /** Absolute path of the module. */
  readonly modulePath: string;
}

function configError(file: string, message: string): ConfigurationError {
  return new ConfigurationError(VALIDATORS_FILE_VARIABLE, `${file}: ${message}`);
}

function entryLabel(index: number, name: unknown): string {
  return typeof name === 'string' && name.length > 0 ? `entry ${index} ('${name.slice(0, 100)}')` : `entry ${index}`;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Reads and checks the file (synchronously, so a bad file stops start-up before any work is
 * consumed): strict JSON (no duplicate members), the typebox schema, unique names, and module
 * files that exist.
 */
export function readValidatorsFile(path: string): ResolvedValidatorEntry[] {
  const file = resolve(path);
  let text: string;
  try {
    if (statSync(file).size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw configError(file, `cannot be read: ${errorMessage(error)}`);
  }
  let parsed: unknown;
  try {
    parsed = parseStrictJson(text);
  } catch (error) {
    throw configError(file, `is not valid JSON: ${errorMessage(error)}`);
  }
  if (!fileValidator.Check(parsed)) {
    if (!Array.isArray(parsed)) throw configError(file, 'must be a JSON array of {name, module, enabled, priority, options, profiles}');
    const first = fileValidator.Errors(parsed)[0];
    const pointer = first?.instancePath ?? '';
    const index = Number(/^\/([0-9]+)/.exec(pointer)?.[1] ?? 0);
    const member = pointer.replace(/^\/[0-9]+/, '');
    const hint = member.startsWith('/profiles') ? ` (${PROFILE_NAMES.join(', ')})` : '';
    const entry = parsed[index] as { name?: unknown } | undefined;
    throw configError(file, `${entryLabel(index, entry?.name)}${member ? ` ${member}` : ''}: ${first?.message ?? 'is invalid'}${hint}`);
  }

  const seen = new Set<string>();
  return parsed.map((entry, index) => {
    if (seen.has(entry.name)) throw configError(file, `${entryLabel(index, entry.name)}: the name is used twice`);
    seen.add(entry.name);
    const modulePath = isAbsolute(entry.module) ? entry.module : resolve(dirname(file), entry.module);
    if (entry.enabled !== false && !existsSync(modulePath)) {
      throw configError(file, `${entryLabel(index, entry.name)}: module ${modulePath} does not exist`);
    }
    return { ...entry, modulePath };
  });
}

function isCustomValidatorModule(value: unknown): value is CustomValidatorModule {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.name === 'string' && typeof candidate.create === 'function';
}

function isCustomValidator(value: unknown): value is CustomValidator {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.name === 'string' && typeof candidate.validatePost === 'function' && typeof candidate.validateUpdate === 'function';
}

/** Imports one entry's module and builds its validator with the entry's options. */
async function loadEntry(file: string, index: number, entry: ResolvedValidatorEntry): Promise<RegisteredCustomValidator> {
  const label = entryLabel(index, entry.name);
  let imported: unknown;
  try {
    imported = await import(pathToFileURL(entry.modulePath).href);
  } catch (error) {
    throw configError(file, `${label}: module ${entry.modulePath} cannot be loaded: ${errorMessage(error)}`);
  }
  const exported = typeof imported === 'object' && imported !== null ? (imported as { default?: unknown }).default : undefined;
  if (!isCustomValidatorModule(exported)) {
    throw configError(file, `${label}: module ${entry.modulePath} has no default export {name, create(options)} (a CustomValidatorModule)`);
  }
  let validator: unknown;
  try {
    validator = exported.create(entry.options !== undefined ? entry.options : exported.defaultOptions);
  } catch (error) {
    throw configError(file, `${label}: options refused: ${errorMessage(error)}`);
  }
  if (!isCustomValidator(validator)) {
    throw configError(file, `${label}: ${exported.name}.create() did not return a validator {name, validatePost, validateUpdate}`);
  }
  return {
    validator,
    priority: entry.priority,
    enabled: true,
    ...(entry.profiles ? { profiles: entry.profiles } : {}),
  };
}

/**
 * The enabled validators of the file, loaded (in file order; `runCustomValidators` orders them by
 * priority). Throws {@link ConfigurationError} on the first problem.
 */
export async function loadCustomValidators(entries: readonly ResolvedValidatorEntry[], file: string): Promise<RegisteredCustomValidator[]> {
  const loaded: RegisteredCustomValidator[] = [];
  for (const [index, entry] of entries.entries()) {
    if (entry.enabled === false) continue;
    loaded.push(await loadEntry(resolve(file), index, entry));
  }
  return loaded;
}

/** {@link readValidatorsFile} then {@link loadCustomValidators}. */
export async function loadValidatorsFile(path: string): Promise<RegisteredCustomValidator[]> {
  return loadCustomValidators(readValidatorsFile(path), path);
}
