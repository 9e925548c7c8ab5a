import { describe, expect, it } from 'vitest';
import {
  DnSyntaxError,
  OID,
  certificateSubject,
  certificateSubjectAltNames,
  dnEquals,
  dnMatchesCertificate,
  formatDn,
  getAttribute,
  getCertificateAttribute,
  goCanonicalRdnSequence,
  goSubjectString,
  normalizeDnValue,
  parseDn,
  resolveAttributeType,
  tryParseDn,
} from '../../platform/pki/dn.js';
import { OB_SUBJECT_DN, ORG_ID, SOFTWARE_ID, buildCertificate, obLegacyCertificate } from './fixtures.js';

/** C=GB / O="Org, Ltd" / organizationIdentifier / CN+UID / OU=a+OU=b, in ASN.1 order. */
const OBWAC_LIKE = buildCertificate(
  [
    [{ type: OID.C, printable: 'GB' }],
    [{ type: OID.O, utf8: 'Org, Ltd' }],
    [{ type: OID.ORGANIZATION_IDENTIFIER, utf8: 'PSDGB-FCA-123456' }],
    [
      { type: OID.CN, utf8: '0015800001041RbAAI' },
      { type: OID.UID, utf8: 'abc' },
    ],
    [
      { type: OID.OU, printable: 'a' },
      { type: OID.OU, printable: 'b' },
    ],
  ],
  { dns: ['tpp.example.com'], ip: ['10.0.0.1'], email: ['ops@tpp.example.com'], uri: ['https://tpp.example.com/id'] },
);

describe('parseDn (RFC 4514)', () => {
  it('parses RDNs and returns them in ASN.1 order', () => {
    const rdns = parseDn('CN=Steve Kille,O=Isode Limited,C=GB');
    expect(rdns.map((rdn) => rdn.map((a) => [a.type, a.value]))).toEqual([
      [[OID.C, 'GB']],
      [[OID.O, 'Isode Limited']],
      [[OID.CN, 'Steve Kille']],
    ]);
  });

  it('handles multi-valued RDNs with +', () => {
    const rdns = parseDn('OU=Sales+CN=J. Smith,DC=example,DC=net');
    expect(rdns).toHaveLength(3);
    expect(rdns[2]!.map((a) => a.type)).toEqual([OID.OU, OID.CN]);
    expect(getAttribute(rdns, 'DC')).toEqual(['net', 'example']);
  });

  it('unescapes special characters and hex pairs (UTF-8)', () => {
    expect(getAttribute(parseDn('CN=James \\"Jim\\" Smith\\, III,DC=example'), 'CN')).toEqual(['James "Jim" Smith, III']);
    expect(getAttribute(parseDn('CN=Before\\0dAfter'), 'CN')).toEqual(['Before\rAfter']);
    expect(getAttribute(parseDn('CN=Lu\\C4\\8Di\\C4\\87'), 'CN')).toEqual(['Lučić']);
    expect(getAttribute(parseDn('CN=\\#start\\ ,O=x'), 'CN')).toEqual(['#start ']);
    expect(getAttribute(parseDn('CN=a\\+b\\;c\\<d\\>e\\=f\\\\g'), 'CN')).toEqual(['a+b;c<d>e=f\\g']);
  });

  it('decodes #hex DER values of string types (and keeps non-strings as DER)', () => {
    // 2.5.4.97 as UTF8String 'PSDGB-FCA-123456' and as PrintableString
    const utf8 = parseDn('2.5.4.97=#0c1050534447422d4643412d313233343536');
    const printable = parseDn('organizationIdentifier=#131050534447422d4643412d313233343536');
    expect(getAttribute(utf8, 'organizationIdentifier')).toEqual(['PSDGB-FCA-123456']);
    expect(getAttribute(printable, '2.5.4.97')).toEqual(['PSDGB-FCA-123456']);
    expect(dnEquals(utf8, printable)).toBe(true);
    const integer = parseDn('1.2.3.4=#020105');
    expect(integer[0]![0]!.value).toBeNull();
    expect(Buffer.from(integer[0]![0]!.der!).toString('hex')).toBe('020105');
    expect(dnEquals(integer, '1.2.3.4=#020105')).toBe(true);
    expect(dnEquals(integer, '1.2.3.4=#020106')).toBe(false);
  });

  it('maps the descriptors of SPEC §7.2 to OIDs (case-insensitive, OID. prefix)', () => {
    expect(resolveAttributeType('organizationIdentifier')).toBe('2.5.4.97');
    expect(resolveAttributeType('uid')).toBe('0.9.2342.19200300.100.1.1');
    expect(resolveAttributeType('DC')).toBe('0.9.2342.19200300.100.1.25');
    expect(resolveAttributeType('businessCategory')).toBe('2.5.4.15');
    expect(resolveAttributeType('jurisdictionCountryName')).toBe('1.3.6.1.4.1.311.60.2.1.3');
    expect(resolveAttributeType('serialNumber')).toBe('2.5.4.5');
    expect(resolveAttributeType('OID.2.5.4.3')).toBe('2.5.4.3');
    expect(resolveAttributeType('nonsense')).toBeNull();
  });

  it('accepts OpenSSL output forms (RFC 2253, spaced/quoted, one-line)', () => {
    const cert = certificateSubject(OBWAC_LIKE);
    // openssl x509 -noout -subject -nameopt RFC2253
    expect(dnEquals('OU=b+OU=a,UID=abc+CN=0015800001041RbAAI,organizationIdentifier=PSDGB-FCA-123456,O=Org\\, Ltd,C=GB', cert)).toBe(true);
    // openssl x509 -noout -subject (OpenSSL 3 default): forward order, spaces, quotes
    expect(dnEquals('C = GB, O = "Org, Ltd", organizationIdentifier = PSDGB-FCA-123456, CN = 0015800001041RbAAI + UID = abc, OU = a + OU = b', cert)).toBe(true);
    // openssl x509 -noout -subject -nameopt compat (one-line, ASN.1 order)
    expect(dnEquals('/C=GB/O=Org, Ltd/organizationIdentifier=PSDGB-FCA-123456/CN=0015800001041RbAAI+UID=abc/OU=a+OU=b', cert)).toBe(true);
  });

  it('rejects malformed DNs with DnSyntaxError', () => {
    for (const bad of ['CN', 'CN=a,', '=x', 'foo=bar', 'CN=a\\', 'CN=\\zz', '2.5.4.3=#0c', '2.5.4.3=#zz', '2.5.4.3=#0c02414243', 'CN="open']) {
      expect(() => parseDn(bad), bad).toThrow(DnSyntaxError);
      expect(tryParseDn(bad)).toBeNull();
    }
    expect(parseDn('   ')).toEqual([]);
  });
});

describe('dnEquals', () => {
  it('compares values caseIgnoreMatch-style (case, surrounding and inner whitespace)', () => {
    expect(dnEquals('CN=Open  Banking ,O=x', 'cn=open banking,o=X')).toBe(true);
    expect(normalizeDnValue('  A\t B  ')).toBe('a b');
    expect(dnEquals('CN=a,O=x', 'CN=b,O=x')).toBe(false);
  });

  it('accepts the exact reverse order but not other permutations', () => {
    expect(dnEquals('CN=a,OU=b,O=c,C=GB', 'C=GB,O=c,OU=b,CN=a')).toBe(true);
    expect(dnEquals('CN=a,OU=b,O=c,C=GB', 'OU=b,CN=a,O=c,C=GB')).toBe(false);
    expect(dnEquals('CN=a,O=c', 'CN=a,O=c,C=GB')).toBe(false);
  });

  it('treats multi-valued RDNs as unordered sets', () => {
    expect(dnEquals('CN=a+UID=b,O=c', 'UID=b+CN=a,O=c')).toBe(true);
    expect(dnEquals('CN=a+UID=b,O=c', 'CN=a,UID=b,O=c')).toBe(false);
    expect(dnEquals('CN=a+CN=a,O=c', 'CN=a+UID=a,O=c')).toBe(false);
  });

  it('distinguishes attribute types', () => {
    expect(dnEquals('CN=x', 'OU=x')).toBe(false);
    expect(dnEquals('2.5.4.3=x', 'CN=x')).toBe(true);
  });
});

describe('certificates', () => {
  it('reads the subject (ASN.1 order) and single attributes', () => {
    const subject = certificateSubject(OBWAC_LIKE);
    expect(subject).toHaveLength(5);
    expect(getCertificateAttribute(OBWAC_LIKE, 'CN')).toEqual(['0015800001041RbAAI']);
    expect(getCertificateAttribute(OBWAC_LIKE, 'OU')).toEqual(['a', 'b']);
    expect(getCertificateAttribute(OBWAC_LIKE, 'UID')).toEqual(['abc']);
    expect(getCertificateAttribute(OBWAC_LIKE, 'organizationIdentifier')).toEqual(['PSDGB-FCA-123456']);
    expect(getCertificateAttribute(OBWAC_LIKE, 'O')).toEqual(['Org, Ltd']);
  });

  it('formats RFC 4514 strings losslessly (unknown types as #hex)', () => {
    const subject = certificateSubject(OBWAC_LIKE);
    const text = formatDn(subject);
    expect(text).toContain('2.5.4.97=#0c1050534447422d4643412d313233343536');
    expect(text.endsWith('O=Org\\, Ltd,C=GB')).toBe(true);
    expect(dnEquals(text, subject)).toBe(true);
  });

  it('reproduces Go pkix.Name.ToRDNSequence().String() (conformance-dcr)', () => {
    const subject = certificateSubject(OBWAC_LIKE);
    // Go keeps only C/ST/L/STREET/POSTALCODE/O/OU/CN/SERIALNUMBER of a parsed certificate, fixed order.
    expect(goSubjectString(subject)).toBe('CN=0015800001041RbAAI,OU=a+OU=b,O=Org\\, Ltd,C=GB');
    expect(goCanonicalRdnSequence(subject)).toHaveLength(4);
    expect(goSubjectString(certificateSubject(obLegacyCertificate()))).toBe(OB_SUBJECT_DN);
  });

  it('matches a registered DN against the certificate in RFC 4514, OpenSSL or Go form', () => {
    const subject = certificateSubject(OBWAC_LIKE);
    expect(dnMatchesCertificate('CN=0015800001041RbAAI,OU=a+OU=b,O=Org\\, Ltd,C=GB', subject)).toBe(true); // Go
    expect(dnMatchesCertificate(formatDn(subject), subject)).toBe(true); // full RFC 4514
    expect(dnMatchesCertificate('C=GB,O=Org\\, Ltd,2.5.4.97=PSDGB-FCA-123456,CN=0015800001041RbAAI+UID=abc,OU=a+OU=b', subject)).toBe(true); // forward
    expect(dnMatchesCertificate('CN=other,OU=a+OU=b,O=Org\\, Ltd,C=GB', subject)).toBe(false);
    expect(dnMatchesCertificate('CN=0015800001041RbAAI,O=Org\\, Ltd,C=GB', subject)).toBe(false); // OU dropped
    expect(dnMatchesCertificate('not a dn', subject)).toBe(false);
    expect(dnMatchesCertificate('', subject)).toBe(false);
  });

  it('reads subject alternative names', () => {
    expect(certificateSubjectAltNames(OBWAC_LIKE)).toEqual({
      dns: ['tpp.example.com'],
      uri: ['https://tpp.example.com/id'],
      ip: ['10.0.0.1'],
      email: ['ops@tpp.example.com'],
    });
    expect(certificateSubjectAltNames(obLegacyCertificate())).toEqual({ dns: [], uri: [], ip: [], email: [] });
  });

  it('accepts DER bytes and base64 as well as PEM', () => {
    const pem = obLegacyCertificate(ORG_ID, SOFTWARE_ID);
    const base64 = pem.replace(/-----[A-Z ]+-----|\s/g, '');
    const der = new Uint8Array(Buffer.from(base64, 'base64'));
    expect(dnEquals(certificateSubject(der), certificateSubject(pem))).toBe(true);
    expect(dnEquals(certificateSubject(base64), OB_SUBJECT_DN)).toBe(true);
    expect(dnEquals(certificateSubject({ raw: der }), OB_SUBJECT_DN)).toBe(true);
  });
});
