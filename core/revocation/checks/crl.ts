/**
 * `crl`: the transport certificate's serial is not in the CRL of its CRL distribution points (the
 * CRL signed by the issuing CA, naming it as issuer, current). No distribution point: nothing to ask.
 */
import { accepted, refused, type RevocationCheck } from '../check.js';

export const crl: RevocationCheck<'crl'> = {
  name: 'crl',
  describes: 'transport certificate not listed in its CA\'s CRL',
  needs: [],
  softFailOnlyWith: 'ocsp',
  async check({ certificate }) {
    const cert = certificate.certificate();
    const urls = cert.crlDistributionPoints;
    if (urls.length === 0) return accepted('no CRL distribution point');
    const { value, url, cached } = await certificate.crl(urls);
    if (value.revoked) {
      return refused(`the transport certificate (serial ${cert.serial.slice(0, 40)}) is revoked by its CA's CRL${value.revokedAt ? ` since ${value.revokedAt.toISOString()}` : ''}`);
    }
    return accepted(`not in the CRL ${url}${cached ? ' (cached)' : ''}`, true);
  },
};
