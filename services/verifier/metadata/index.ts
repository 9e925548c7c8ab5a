/**
 * The verifier's pure metadata stage (SPEC §4 steps 7, 8, 10–19 and §5.1).
 */
export { validateRegistrationMetadata, validateRegistration, createRuleContext, type MetadataValidationResult } from './validate.js';
export { buildRegistrationResponse, type ServerAssigned } from '../../../core/registration/response.js';
export { RegisteredMetadataSchema, RegisteredMetadataValidator, type RegisteredMetadata } from '../../../core/registration/registered-metadata.js';
export type { MetadataInput, MetadataPolicy, ClientCertificateInfo, UpdateTarget, RuleContext } from './types.js';
export type { SsaFacts } from './ssa-claims.js';
export {
  runCustomValidators,
  orderValidators,
  type CustomValidator,
  type CustomValidatorContext,
  type CustomValidationResult,
  type CustomValidatorModule,
  type RegisteredCustomValidator,
  type ValidationPhase,
} from './custom-validator.js';
