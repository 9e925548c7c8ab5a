/**
 * `chain`: the transport certificate is issued (name and signature) by a CA of the client CA bundle
 * (`DCR_CLIENT_CA_FILE`), within validity, issuer a CA, EKU allowing clientAuth. A certificate that
 * does not chain is refused (the evidence port throws the refusal, see `CertificateEvidence.chain`).
 */
import { accepted, type RevocationCheck } from '../check.js';

export const chain: RevocationCheck<'chain'> = {
  name: 'chain',
  describes: 'transport certificate chains to a client CA',
  needs: [],
  async check({ certificate }) {
    certificate.chain();
    return accepted('chains to a client CA', true);
  },
};
