/**
 * `ocsp`: the OCSP answer (RFC 6960, GET form) of the transport certificate's AIA responders: `good`
 * accepts, `revoked` refuses, `unknown` is retried (`DCR_OCSP_UNKNOWN=reject`: refused).
 */
import { accepted, refused, retryable, type RevocationCheck } from '../check.js';

export const ocsp: RevocationCheck<'ocsp'> = {
  name: 'ocsp',
  describes: 'transport certificate good according to its OCSP responders',
  needs: [],
  softFailOnlyWith: 'crl',
  async check({ certificate, policy }) {
    const cert = certificate.certificate();
    const urls = cert.ocspResponders;
    if (urls.length === 0) return accepted('no OCSP responder');
    const { value, url, cached } = await certificate.ocsp(urls);
    if (value.status === 'revoked') {
      return refused(`the transport certificate (serial ${cert.serial.slice(0, 40)}) is revoked (OCSP)${value.revokedAt ? ` since ${value.revokedAt.toISOString()}` : ''}`);
    }
    if (value.status === 'unknown') {
      if (policy.ocspUnknown === 'reject') return refused('the transport certificate is unknown to its CA (OCSP)');
      return retryable('directory_unreachable', `OCSP ${url}: the responder does not know the transport certificate (unknown)`);
    }
    return accepted(`OCSP good from ${url}${cached ? ' (cached)' : ''}`, true);
  },
};
