/**
 * Example custom validator (SPEC §12): refuse software statements whose `software_mode` is `Test`
 * unless the bank allows test software (`allowTest`). OBIE SSAs carry `software_mode`
 * (`Test`/`Live`, default Live). The SSA is valid but not approved for this AS, hence
 * `unapproved_software_statement`.
 *
 * Configuration: `{ name: 'require-software-mode-live', module: '…/require-software-mode-live.js',
 * priority: 100, options: { allowTest: false } }`.
 */
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import type { CustomValidator, CustomValidatorContext, CustomValidatorModule, CustomValidationResult } from '../custom-validator.js';

export const RequireSoftwareModeLiveOptions = Type.Object(
  {
    /** Accept `software_mode: Test` (sandbox banks). Default false. */
    allowTest: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type RequireSoftwareModeLiveOptions = Static<typeof RequireSoftwareModeLiveOptions>;

const optionsValidator = Compile(RequireSoftwareModeLiveOptions);
const NAME = 'require-software-mode-live';

function check(options: RequireSoftwareModeLiveOptions, ctx: CustomValidatorContext): CustomValidationResult {
  if (options.allowTest || !ctx.ssa) return { ok: true };
  const claimName = ctx.profile.ssa.claims.softwareMode ?? 'software_mode';
  const mode = ctx.ssa[claimName];
  if (typeof mode === 'string' && mode.trim().toLowerCase() === 'test') {
    return {
      ok: false,
      error: 'unapproved_software_statement',
      description: `${claimName} 'Test': test software is not accepted by this server`,
    };
  }
  return { ok: true };
}

export function createRequireSoftwareModeLive(options: RequireSoftwareModeLiveOptions = { allowTest: false }): CustomValidator {
  return {
    name: NAME,
    validatePost: (ctx) => check(options, ctx),
    validateUpdate: (ctx) => check(options, ctx),
  };
}

const validatorModule: CustomValidatorModule<RequireSoftwareModeLiveOptions> = {
  name: NAME,
  defaultOptions: { allowTest: false },
  create(options: unknown): CustomValidator {
    const merged = { allowTest: false, ...(typeof options === 'object' && options !== null ? options : {}) };
    if (!optionsValidator.Check(merged)) {
      const [first] = optionsValidator.Errors(merged);
      throw new Error(`${NAME} options: ${first?.instancePath || '/'} ${first?.message ?? 'invalid'}`);
    }
    return createRequireSoftwareModeLive(merged);
  },
};

export default validatorModule;
