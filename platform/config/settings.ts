import { Type, type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { ConfigurationError } from '../../core/domain/errors.js';

/**
 * The building blocks of the configuration table (variables.ts): one {@link Setting} per
 * configuration field, naming the environment variable that fills it, how its text is parsed, its
 * default (a value or a function of other settings), what a valid value is (a TypeBox schema plus an
 * optional check) and its documentation line. The schema, the loader, the error lines and README's
 * table are all derived from the table (node-oidc-provider `lib/helpers/defaults.js` style).
 */

/** What a default or a custom reader may look at while the configuration is being resolved. */
export interface Resolver {
  /** A variable's value, trimmed; undefined when unset or blank (an empty value counts as unset). */
  raw(variable: string): string | undefined;
  /** The same, not trimmed (secrets are taken as given). */
  given(variable: string): string | undefined;
  /** Another setting's resolved, validated value, by its path (`as.port`). */
  get<T = unknown>(path: string): T;
  readonly options: LoadOptions;
}

export interface LoadOptions {
  /**
   * Sandbox mode when neither `DCR_SANDBOX` nor any trust variable is set. Only the sandbox entry
   * points (`npm start`, `sandbox/service/main.ts`, the CLI, the test harness) pass it: a production
   * process missing its trust configuration refuses to start instead of trusting a CA it generated itself.
   */
  sandboxByDefault?: boolean;
  /**
   * This process runs the sandbox AS itself (`npm start`): in sandbox mode, unless an AS is
   * configured (`DCR_AS_ISSUER` or `DCR_AS_INTROSPECTION_URL`), the AS issuer defaults to
   * `https://localhost:DCR_AS_PORT` and its JWKS to `ISSUER/jwks`.
   */
  sandboxAs?: boolean;
}

export interface SettingSpec<S extends TSchema> {
  /** The environment variable (README lists the setting under it). */
  readonly env: string;
  /** Further variables read for the same field; the first one set among `env` and these supplies the value. */
  readonly also?: readonly string[];
  /** A valid value (after parsing). */
  readonly schema: S;
  /** The allowed form, for error lines: `must be <form>, got '…'`. */
  readonly form: string;
  /** Text to value; may throw {@link ConfigurationError}. Default: the trimmed text. */
  readonly parse?: (text: string, variable: string) => unknown;
  /** The value when no variable is set: a constant, or a function of other settings. */
  readonly default?: Static<S> | ((r: Resolver) => Static<S> | undefined);
  /** Replaces env/also/parse/default: reads the field itself (several variables merged, say). */
  readonly read?: (r: Resolver) => unknown;
  /** A rule beyond the schema (the value's problem, or undefined when fine). */
  readonly check?: (value: Static<S>, r: Resolver) => string | undefined;
  /** Never printed: error lines do not repeat the value; README marks it. Taken untrimmed. */
  readonly secret?: boolean;
  /** Taken as given, surrounding spaces included (client ids). */
  readonly untrimmed?: boolean;
  /** README: what it does. */
  readonly doc: string;
  /** README default column when the default is not a constant (or reads better in words). */
  readonly defaultDoc?: string;
  /** Outside the sandbox the process refuses to start without it; the text says what it is for. */
  readonly requiredOutsideSandbox?: string;
}

export interface Setting<S extends TSchema = TSchema, Optional extends boolean = boolean> extends SettingSpec<S> {
  readonly kind: 'setting';
  /** The field may be absent from the configuration object. */
  readonly optional: Optional;
}

/** A variable another component reads itself (documented, validated elsewhere or not at all). */
export interface DocumentedVariable {
  readonly kind: 'documented';
  readonly env: string;
  readonly also?: readonly string[];
  readonly doc: string;
  readonly defaultDoc: string;
  readonly secret?: boolean;
}

/** A field that is always present (it has a default, or its reader always answers). */
export function setting<S extends TSchema>(spec: SettingSpec<S>): Setting<S, false> {
  return { ...spec, kind: 'setting', optional: false };
}

/** A field that may be absent (unset, no default). */
export function maybe<S extends TSchema>(spec: SettingSpec<S>): Setting<S, true> {
  return { ...spec, kind: 'setting', optional: true };
}

export function documented(spec: Omit<DocumentedVariable, 'kind'>): DocumentedVariable {
  return { ...spec, kind: 'documented' };
}

export type SettingsTree = { readonly [key: string]: Setting | SettingsTree };

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type ValueOf<T> = T extends Setting<infer S, boolean> ? Static<S> : T extends SettingsTree ? ConfigOf<T> : never;
type OptionalKeys<T> = { [K in keyof T]: T[K] extends Setting<TSchema, true> ? K : never }[keyof T];

/** The configuration object's type, derived from the table. */
export type ConfigOf<T> = Simplify<
  { -readonly [K in Exclude<keyof T, OptionalKeys<T>>]: ValueOf<T[K]> } & { -readonly [K in OptionalKeys<T>]?: ValueOf<T[K]> }
>;

export function isSetting(node: Setting | SettingsTree): node is Setting {
  return (node as Setting).kind === 'setting' && typeof (node as Setting).env === 'string';
}

/** Every setting with its path, in table order. */
export function flatten(tree: SettingsTree, prefix: readonly string[] = []): { path: string[]; setting: Setting }[] {
  const out: { path: string[]; setting: Setting }[] = [];
  for (const [key, node] of Object.entries(tree)) {
    if (isSetting(node)) out.push({ path: [...prefix, key], setting: node });
    else out.push(...flatten(node, [...prefix, key]));
  }
  return out;
}

/** The TypeBox schema of the whole configuration object, derived from the table. */
export function schemaOf(tree: SettingsTree): TSchema {
  const properties: Record<string, TSchema> = {};
  for (const [key, node] of Object.entries(tree)) {
    properties[key] = isSetting(node) ? (node.optional ? Type.Optional(node.schema) : node.schema) : schemaOf(node);
  }
  return Type.Object(properties);
}

// ---------------------------------------------------------------------------------------------
// Parsers and kinds: the pieces a table entry is made of.

/** `a,b , c` → `['a','b','c']` (blank items dropped). */
export function parseList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function parseInteger(text: string, variable: string): number {
  if (!/^-?[0-9]+$/.test(text)) throw new ConfigurationError(variable, `must be an integer, got '${shown(text)}'`);
  return Number.parseInt(text, 10);
}

export function parseBoolean(text: string, variable: string): boolean {
  if (['1', 'true', 'yes', 'on'].includes(text.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(text.toLowerCase())) return false;
  throw new ConfigurationError(variable, `must be 1 or 0, got '${shown(text)}'`);
}

/** A value as an error line repeats it: at most 60 characters. */
export function shown(value: unknown): string {
  const text = typeof value === 'string' ? value : Array.isArray(value) ? value.join(',') : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

const withoutTrailingSlashes = (text: string) => text.replace(/\/+$/, '');

export const kinds = {
  port: () => ({ schema: Type.Integer({ minimum: 0, maximum: 65535 }), form: 'a port number 0-65535', parse: parseInteger }),
  integer: (minimum: number, maximum?: number) => ({
    schema: Type.Integer({ minimum, ...(maximum === undefined ? {} : { maximum }) }),
    form: maximum === undefined ? `an integer, at least ${minimum}` : `an integer from ${minimum} to ${maximum}`,
    parse: parseInteger,
  }),
  boolean: () => ({ schema: Type.Boolean(), form: '1 or 0', parse: parseBoolean }),
  text: (minLength = 1) => ({ schema: Type.String({ minLength }), form: minLength > 1 ? `at least ${minLength} characters` : 'a non-empty string' }),
  file: () => ({ schema: Type.String({ minLength: 1 }), form: 'a file path' }),
  httpsUrl: () => ({ schema: Type.String({ pattern: '^https://[^\\s]+$' }), form: 'an https:// URL' }),
  /** An https:// base URL: trailing slashes dropped (paths are appended to it). */
  baseUrl: () => ({ schema: Type.String({ pattern: '^https://[^\\s]+$' }), form: 'an https:// URL', parse: withoutTrailingSlashes }),
  list: <I extends TSchema>(item: I, form: string, options: { minItems?: number; uniqueItems?: boolean } = {}) => ({
    schema: Type.Array(item, options),
    form,
    parse: parseList,
  }),
  oneOf: <const V extends string[]>(values: readonly [...V]) => ({ schema: Type.Enum<V>(values), form: `one of ${values.join(', ')}` }),
};

// ---------------------------------------------------------------------------------------------
// The loader: resolves every setting (lazily, so a default may use other settings), validates it
// against its schema and check, and fails with one line naming the variable.

type Env = Record<string, string | undefined>;

export interface TreeResolver<T extends SettingsTree> {
  readonly resolver: Resolver;
  /** The configuration object: every setting (or only those at `only`), absent values left out. */
  build(only?: readonly string[]): ConfigOf<T>;
}

const ENTRIES = new WeakMap<SettingsTree, Map<string, { path: string[]; setting: Setting }>>();

function entriesOf(tree: SettingsTree): Map<string, { path: string[]; setting: Setting }> {
  let entries = ENTRIES.get(tree);
  if (!entries) {
    entries = new Map(flatten(tree).map((e) => [e.path.join('.'), e] as const));
    ENTRIES.set(tree, entries);
  }
  return entries;
}

export function resolverFor<T extends SettingsTree>(tree: T, env: Env, options: LoadOptions, mode: { givenOnly?: boolean } = {}): TreeResolver<T> {
  const entries = entriesOf(tree);
  const values = new Map<string, unknown>();
  const resolving = new Set<string>();
  const given = (variable: string) => {
    const value = env[variable];
    return value === undefined || value.trim() === '' ? undefined : value;
  };
  const resolver: Resolver = {
    raw: (variable) => given(variable)?.trim(),
    given,
    get: <V>(path: string): V => resolve(path) as V,
    options,
  };
  const resolve = (path: string): unknown => {
    if (values.has(path)) return values.get(path);
    const entry = entries.get(path);
    if (!entry) throw new Error(`configuration table: no setting at '${path}'`);
    if (resolving.has(path)) throw new Error(`configuration table: '${path}' depends on itself`);
    resolving.add(path);
    const value = readSetting(entry.setting, resolver, mode.givenOnly === true);
    resolving.delete(path);
    values.set(path, value);
    return value;
  };
  const build = (node: SettingsTree, prefix: string[], only: readonly string[] | undefined): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(node)) {
      const path = [...prefix, key].join('.');
      if (isSetting(child)) {
        if (only && !only.includes(path)) continue;
        const value = resolve(path);
        if (value !== undefined) out[key] = value;
      } else if (!only || only.some((p) => p.startsWith(`${path}.`))) {
        out[key] = build(child, [...prefix, key], only);
      }
    }
    return out;
  };
  return { resolver, build: (only) => build(tree, [], only) as ConfigOf<T> };
}

const checkers = new WeakMap<TSchema, (value: unknown) => boolean>();

function readSetting(setting: Setting, r: Resolver, givenOnly: boolean): unknown {
  let variable = setting.env;
  let value: unknown;
  if (setting.read && !givenOnly) {
    value = setting.read(r);
  } else {
    const given = [setting.env, ...(setting.also ?? [])].find((v) => r.raw(v) !== undefined);
    if (given !== undefined) {
      variable = given;
      const text = (setting.secret || setting.untrimmed ? r.given(given) : r.raw(given)) as string;
      value = setting.parse ? setting.parse(text, given) : text;
    } else if (!givenOnly) {
      value = typeof setting.default === 'function' ? (setting.default as (r: Resolver) => unknown)(r) : setting.default;
    }
  }
  if (value === undefined) return undefined;
  if (!checker(setting.schema)(value)) throw new ConfigurationError(variable, problemOf(setting, value));
  const problem = setting.check?.(value as never, r);
  if (problem !== undefined) throw new ConfigurationError(variable, problem);
  return value;
}

/** What is wrong with a value its schema refuses, and the allowed form; a secret's value is never repeated. */
function problemOf(setting: Setting, value: unknown): string {
  const schema = setting.schema as TSchema & { items?: TSchema; uniqueItems?: boolean; minItems?: number };
  if (Array.isArray(value) && schema.items && !setting.secret) {
    const items = schema.items;
    const bad = value.find((item) => !checker(items)(item));
    if (bad !== undefined) return `'${shown(bad)}' is not allowed: must be ${setting.form}`;
    if (schema.minItems !== undefined && value.length < schema.minItems) return `must not be empty: must be ${setting.form}`;
    if (schema.uniqueItems && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) return `lists an item twice: must be ${setting.form}, got '${shown(value)}'`;
  }
  return `must be ${setting.form}${setting.secret ? ' (the value is not shown)' : `, got '${shown(value)}'`}`;
}

function checker(schema: TSchema): (value: unknown) => boolean {
  let check = checkers.get(schema);
  if (!check) {
    const compiled = Compile(schema);
    check = (value) => compiled.Check(value);
    checkers.set(schema, check);
  }
  return check;
}
