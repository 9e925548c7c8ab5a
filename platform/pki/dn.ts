/**
 * Distinguished names: RFC 4514 parsing, certificate subjects, comparison (SPEC §7.2).
 *
 * An {@link RdnSequence} is always in **ASN.1 order** (the order of the certificate's
 * `RDNSequence`, most general first, e.g. `C` first). RFC 4514 strings list the RDNs in the reverse
 * order (most specific first), so {@link parseDn} reverses them; OpenSSL's one-line `/C=GB/O=…`
 * form is already in ASN.1 order. {@link dnEquals} accepts either order anyway (OpenSSL prints
 * forward order with commas).
 *
 * Certificates are read with @peculiar/asn1-x509 (no hand-written ASN.1). @peculiar/x509 itself is
 * not imported here: its CommonJS build needs a `Reflect.getMetadata` polyfill at load time.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AttributeValue,
  Certificate,
  Name as AsnName,
  SubjectAlternativeName,
  id_ce_subjectAltName,
} from '@peculiar/asn1-x509';
import { DcrError } from '../../core/errors/dcr-error.js';

/** One AttributeTypeAndValue. */
export interface DnAttribute {
  /** Dotted-decimal OID of the attribute type. */
  readonly type: string;
  /** The decoded string value; `null` when the value is not an ASN.1 string type. */
  readonly value: string | null;
  /** DER of the AttributeValue when known (certificate, `#hex` string); else null. */
  readonly der: Uint8Array | null;
}

/** A relative distinguished name: a set (unordered) of attributes, usually one. */
export type Rdn = readonly DnAttribute[];

/** RDNs in ASN.1 order (most general first). */
export type RdnSequence = readonly Rdn[];

/** Anything a certificate can be given as. */
export type CertificateSource =
  | string // PEM (the first CERTIFICATE block) or base64 DER
  | Uint8Array
  | ArrayBuffer
  | { readonly rawData: ArrayBuffer } // @peculiar/x509 X509Certificate
  | { readonly raw: Uint8Array }; // node:crypto X509Certificate

export class DnSyntaxError extends DcrError {
  readonly code = 'ERR_DN_SYNTAX';
  readonly position: number;
  constructor(message: string, position: number) {
    super(`${message} at position ${position}`);
    this.position = position;
  }
}

// ---------------------------------------------------------------------------------------------
// Attribute types
// ---------------------------------------------------------------------------------------------

export const OID = {
  CN: '2.5.4.3',
  SN: '2.5.4.4',
  SERIALNUMBER: '2.5.4.5',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  STREET: '2.5.4.9',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  TITLE: '2.5.4.12',
  BUSINESS_CATEGORY: '2.5.4.15',
  POSTALCODE: '2.5.4.17',
  GIVEN_NAME: '2.5.4.42',
  ORGANIZATION_IDENTIFIER: '2.5.4.97',
  UID: '0.9.2342.19200300.100.1.1',
  DC: '0.9.2342.19200300.100.1.25',
  EMAIL: '1.2.840.113549.1.9.1',
  JURISDICTION_L: '1.3.6.1.4.1.311.60.2.1.1',
  JURISDICTION_ST: '1.3.6.1.4.1.311.60.2.1.2',
  JURISDICTION_C: '1.3.6.1.4.1.311.60.2.1.3',
} as const;

/**
 * A lookup table keyed by text from input (a DN, a certificate): null-prototype, so `constructor`,
 * `__proto__` or `toString` are unknown names rather than Object.prototype members.
 */
function table(entries: Record<string, string>): Readonly<Record<string, string>> {
  return Object.freeze(Object.assign(Object.create(null) as Record<string, string>, entries));
}

/** Descriptor (lower case) → OID. RFC 4514 §3 names, X.520 long names, OpenSSL short names. */
const DESCRIPTORS: Readonly<Record<string, string>> = table({
  cn: OID.CN,
  commonname: OID.CN,
  sn: OID.SN,
  surname: OID.SN,
  serialnumber: OID.SERIALNUMBER,
  c: OID.C,
  countryname: OID.C,
  l: OID.L,
  localityname: OID.L,
  st: OID.ST,
  s: OID.ST,
  stateorprovincename: OID.ST,
  street: OID.STREET,
  streetaddress: OID.STREET,
  o: OID.O,
  organizationname: OID.O,
  ou: OID.OU,
  organizationalunitname: OID.OU,
  title: OID.TITLE,
  businesscategory: OID.BUSINESS_CATEGORY,
  postalcode: OID.POSTALCODE,
  givenname: OID.GIVEN_NAME,
  gn: OID.GIVEN_NAME,
  organizationidentifier: OID.ORGANIZATION_IDENTIFIER,
  uid: OID.UID,
  userid: OID.UID,
  dc: OID.DC,
  domaincomponent: OID.DC,
  emailaddress: OID.EMAIL,
  email: OID.EMAIL,
  e: OID.EMAIL,
  jurisdictioncountryname: OID.JURISDICTION_C,
  jurisdictionc: OID.JURISDICTION_C,
  jurisdictionstateorprovincename: OID.JURISDICTION_ST,
  jurisdictionst: OID.JURISDICTION_ST,
  jurisdictionlocalityname: OID.JURISDICTION_L,
  jurisdictionl: OID.JURISDICTION_L,
});

/** Names RFC 4514 §3 says every implementation recognises; used by {@link formatDn}. */
const RFC4514_NAMES: Readonly<Record<string, string>> = table({
  [OID.CN]: 'CN',
  [OID.L]: 'L',
  [OID.ST]: 'ST',
  [OID.O]: 'O',
  [OID.OU]: 'OU',
  [OID.C]: 'C',
  [OID.STREET]: 'STREET',
  [OID.DC]: 'DC',
  [OID.UID]: 'UID',
});

/** Go's `crypto/x509/pkix` attributeTypeNames. */
const GO_NAMES: Readonly<Record<string, string>> = table({
  [OID.C]: 'C',
  [OID.O]: 'O',
  [OID.OU]: 'OU',
  [OID.CN]: 'CN',
  [OID.SERIALNUMBER]: 'SERIALNUMBER',
  [OID.L]: 'L',
  [OID.ST]: 'ST',
  [OID.STREET]: 'STREET',
  [OID.POSTALCODE]: 'POSTALCODE',
});

const OID_PATTERN = /^(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))+$/;
const DESCRIPTOR_PATTERN = /^[A-Za-z][A-Za-z0-9-]*$/;

/** Resolves a descriptor (`CN`, `organizationIdentifier`, …) or dotted OID (`2.5.4.97`, `OID.2.5.4.97`) to an OID. */
export function resolveAttributeType(name: string): string | null {
  const trimmed = name.trim();
  const bare = /^oid\./i.test(trimmed) ? trimmed.slice(4) : trimmed;
  if (OID_PATTERN.test(bare)) return bare;
  if (!DESCRIPTOR_PATTERN.test(trimmed)) return null;
  return DESCRIPTORS[trimmed.toLowerCase()] ?? null;
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/** Decodes the DER of an AttributeValue into its string (null when not a string type). */
function decodeAttributeValue(der: Uint8Array): string | null {
  let parsed: AttributeValue;
  try {
    parsed = AsnConvert.parse(der, AttributeValue);
  } catch (error) {
    throw new Error(`invalid DER attribute value: ${(error as Error).message}`);
  }
  if (AsnConvert.serialize(parsed).byteLength !== der.byteLength) {
    throw new Error('invalid DER attribute value: trailing bytes');
  }
  return attributeValueString(parsed);
}

function attributeValueString(value: AttributeValue): string | null {
  for (const text of [
    value.utf8String,
    value.printableString,
    value.ia5String,
    value.teletexString,
    value.bmpString,
    value.universalString,
  ]) {
    if (typeof text === 'string') return text;
  }
  return null;
}

/**
 * caseIgnoreMatch-style normalisation (RFC 4517 §4.2.11, RFC 4518 simplified): Unicode NFKC,
 * whitespace runs collapsed to one space, leading/trailing whitespace removed, lower case.
 */
export function normalizeDnValue(value: string): string {
  return value.normalize('NFKC').replace(/\s+/gu, ' ').trim().toLowerCase();
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

// ---------------------------------------------------------------------------------------------
// Parsing RFC 4514 strings
// ---------------------------------------------------------------------------------------------

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const ENCODER = new TextEncoder();
const HEX_DIGIT = /^[0-9A-Fa-f]$/;
const WS = /^[ \t\r\n]$/;

class Parser {
  pos = 0;
  constructor(
    readonly text: string,
    /** Characters that end a value (`,+;` for RFC 4514, `/+` for OpenSSL one-line). */
    readonly terminators: string,
  ) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }
  peek(): string {
    return this.text.charAt(this.pos);
  }
  skipWhitespace(): void {
    while (!this.done && WS.test(this.peek())) this.pos++;
  }
  fail(message: string): never {
    throw new DnSyntaxError(message, this.pos);
  }

  attributeType(): string {
    const start = this.pos;
    while (!this.done && this.peek() !== '=' && !this.terminators.includes(this.peek())) this.pos++;
    if (this.peek() !== '=') this.fail('expected "=" after attribute type');
    const raw = this.text.slice(start, this.pos).trim();
    if (raw === '') this.fail('empty attribute type');
    const oid = resolveAttributeType(raw);
    if (!oid) throw new DnSyntaxError(`unknown attribute type '${raw}'`, start);
    this.pos++; // '='
    return oid;
  }

  attributeValue(type: string): DnAttribute {
    this.skipWhitespace();
    if (this.peek() === '#') return this.hexValue(type);
    if (this.peek() === '"') return this.quotedValue(type);
    return this.stringValue(type);
  }

  private hexValue(type: string): DnAttribute {
    const start = ++this.pos;
    while (!this.done && HEX_DIGIT.test(this.peek())) this.pos++;
    const hex = this.text.slice(start, this.pos);
    this.skipWhitespace();
    if (!this.done && !this.terminators.includes(this.peek())) this.fail('invalid character in #hex value');
    if (hex.length === 0 || hex.length % 2 !== 0) throw new DnSyntaxError('#hex value needs an even number of hex digits', start);
    const der = new Uint8Array(Buffer.from(hex, 'hex'));
    let value: string | null;
    try {
      value = decodeAttributeValue(der);
    } catch (error) {
      throw new DnSyntaxError((error as Error).message, start);
    }
    return { type, value, der };
  }

  private quotedValue(type: string): DnAttribute {
    this.pos++; // opening quote
    const bytes: number[] = [];
    for (;;) {
      if (this.done) this.fail('unterminated quoted value');
      const c = this.peek();
      if (c === '"') {
        this.pos++;
        break;
      }
      if (c === '\\') this.escape(bytes);
      else this.literal(bytes);
    }
    this.skipWhitespace();
    if (!this.done && !this.terminators.includes(this.peek())) this.fail('unexpected character after quoted value');
    return { type, value: this.decode(bytes), der: null };
  }

  private stringValue(type: string): DnAttribute {
    const bytes: number[] = [];
    /** Byte length up to the last escaped character: unescaped trailing spaces are dropped after it. */
    let keep = 0;
    while (!this.done && !this.terminators.includes(this.peek())) {
      if (this.peek() === '\\') {
        this.escape(bytes);
        keep = bytes.length;
      } else {
        const isSpace = WS.test(this.peek());
        this.literal(bytes);
        if (!isSpace) keep = bytes.length;
      }
    }
    return { type, value: this.decode(bytes.slice(0, keep)), der: null };
  }

  private escape(bytes: number[]): void {
    const at = this.pos;
    this.pos++; // backslash
    if (this.done) this.fail('dangling backslash');
    const c = this.peek();
    const next = this.text.charAt(this.pos + 1);
    if (HEX_DIGIT.test(c) && HEX_DIGIT.test(next)) {
      bytes.push(parseInt(c + next, 16));
      this.pos += 2;
      return;
    }
    if (' "#+,;<=>\\/'.includes(c)) {
      bytes.push(c.charCodeAt(0));
      this.pos++;
      return;
    }
    throw new DnSyntaxError(`invalid escape '\\${c}'`, at);
  }

  private literal(bytes: number[]): void {
    const cp = this.text.codePointAt(this.pos) ?? 0;
    const ch = String.fromCodePoint(cp);
    for (const b of ENCODER.encode(ch)) bytes.push(b);
    this.pos += ch.length;
  }

  private decode(bytes: number[]): string {
    try {
      return UTF8.decode(new Uint8Array(bytes));
    } catch {
      this.fail('escaped bytes are not valid UTF-8');
    }
  }
}

/**
 * Parses a DN string into an {@link RdnSequence} (ASN.1 order).
 *
 * Accepts RFC 4514 (`CN=a+UID=b,OU=c,O=d,C=GB`: escapes `\,` and `\2C`, `#hex` DER values,
 * multi-valued RDNs with `+`, descriptors or dotted OIDs), RFC 2253 leftovers (`;` separators,
 * quoted values, spaces around `=` and separators as printed by OpenSSL 1.1+: `C = GB, O = x`), and
 * OpenSSL's one-line form `/C=GB/O=x/CN=y` (already in ASN.1 order). Throws {@link DnSyntaxError}.
 */
export function parseDn(text: string): RdnSequence {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const oneLine = trimmed.startsWith('/');
  const parser = new Parser(trimmed, oneLine ? '/+' : ',+;');
  if (oneLine) parser.pos = 1;
  const rdns: DnAttribute[][] = [];
  let current: DnAttribute[] = [];
  for (;;) {
    parser.skipWhitespace();
    const type = parser.attributeType();
    current.push(parser.attributeValue(type));
    parser.skipWhitespace();
    if (parser.done) {
      rdns.push(current);
      break;
    }
    const sep = parser.peek();
    parser.pos++;
    if (sep !== '+') {
      rdns.push(current);
      current = [];
    }
    parser.skipWhitespace();
    if (parser.done) parser.fail('DN ends with a separator');
  }
  return oneLine ? rdns : rdns.reverse();
}

/** {@link parseDn} that returns null instead of throwing. */
export function tryParseDn(text: string): RdnSequence | null {
  try {
    return parseDn(text);
  } catch (error) {
    if (error instanceof DnSyntaxError) return null;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

function certificateDer(source: CertificateSource): Uint8Array {
  if (typeof source === 'string') {
    const pem = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(source);
    const base64 = (pem ? pem[1]! : source).replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw new Error('certificate is neither PEM nor base64 DER');
    return new Uint8Array(Buffer.from(base64, 'base64'));
  }
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if ('rawData' in source) return new Uint8Array(source.rawData);
  return source.raw;
}

function parseCertificate(source: CertificateSource): Certificate {
  return AsnConvert.parse(certificateDer(source), Certificate);
}

/** Converts an @peculiar/asn1-x509 `Name` into an {@link RdnSequence}. */
export function rdnSequenceFromAsnName(name: AsnName): RdnSequence {
  return name.map((rdn) =>
    rdn.map((atv) => ({
      type: atv.type,
      value: attributeValueString(atv.value),
      der: new Uint8Array(AsnConvert.serialize(atv.value)),
    })),
  );
}

/** The DER of a `Name` (e.g. from a CSR or an issuer field) as an {@link RdnSequence}. */
export function rdnSequenceFromNameDer(der: Uint8Array | ArrayBuffer): RdnSequence {
  return rdnSequenceFromAsnName(AsnConvert.parse(der, AsnName));
}

/** The subject of a certificate as an {@link RdnSequence} (ASN.1 order). */
export function certificateSubject(source: CertificateSource): RdnSequence {
  return rdnSequenceFromAsnName(parseCertificate(source).tbsCertificate.subject);
}

/** The issuer of a certificate as an {@link RdnSequence} (ASN.1 order). */
export function certificateIssuer(source: CertificateSource): RdnSequence {
  return rdnSequenceFromAsnName(parseCertificate(source).tbsCertificate.issuer);
}

export interface SubjectAltNames {
  readonly dns: readonly string[];
  readonly uri: readonly string[];
  readonly ip: readonly string[];
  readonly email: readonly string[];
}

/** Subject alternative names of a certificate (RFC 8705 `tls_client_auth_san_*`). */
export function certificateSubjectAltNames(source: CertificateSource): SubjectAltNames {
  const cert = parseCertificate(source);
  const result = { dns: [] as string[], uri: [] as string[], ip: [] as string[], email: [] as string[] };
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_subjectAltName);
  if (!ext) return result;
  const names = AsnConvert.parse(ext.extnValue.buffer, SubjectAlternativeName);
  for (const name of names) {
    if (name.dNSName !== undefined) result.dns.push(name.dNSName);
    if (name.uniformResourceIdentifier !== undefined) result.uri.push(name.uniformResourceIdentifier);
    if (name.iPAddress !== undefined) result.ip.push(name.iPAddress);
    if (name.rfc822Name !== undefined) result.email.push(name.rfc822Name);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Lookup
// ---------------------------------------------------------------------------------------------

/**
 * Every value of an attribute (descriptor such as `CN`, `OU`, `UID`, `organizationIdentifier`, or a
 * dotted OID) in ASN.1 order. Non-string values are skipped.
 */
export function getAttribute(rdns: RdnSequence, attribute: string): string[] {
  const oid = resolveAttributeType(attribute);
  if (!oid) throw new Error(`unknown attribute type '${attribute}'`);
  const values: string[] = [];
  for (const rdn of rdns) for (const atv of rdn) if (atv.type === oid && atv.value !== null) values.push(atv.value);
  return values;
}

/** {@link getAttribute} on a certificate's subject. */
export function getCertificateAttribute(source: CertificateSource, attribute: string): string[] {
  return getAttribute(certificateSubject(source), attribute);
}

// ---------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------

/** Two attributes match: same type, values equal under {@link normalizeDnValue} (or same DER when not strings). */
export function attributeEquals(a: DnAttribute, b: DnAttribute): boolean {
  if (a.type !== b.type) return false;
  if (a.value !== null && b.value !== null) return normalizeDnValue(a.value) === normalizeDnValue(b.value);
  if (a.der && b.der) return bytesEqual(a.der, b.der);
  return false;
}

/** RDNs are sets: same size and a one-to-one matching of attributes, in any order. */
export function rdnEquals(a: Rdn, b: Rdn): boolean {
  if (a.length !== b.length) return false;
  const used = new Array<boolean>(b.length).fill(false);
  outer: for (const atv of a) {
    for (let i = 0; i < b.length; i++) {
      if (!used[i] && attributeEquals(atv, b[i]!)) {
        used[i] = true;
        continue outer;
      }
    }
    return false;
  }
  return true;
}

function asRdns(dn: RdnSequence | string): RdnSequence {
  return typeof dn === 'string' ? parseDn(dn) : dn;
}

function sameOrder(a: RdnSequence, b: RdnSequence, reversed: boolean): boolean {
  for (let i = 0; i < a.length; i++) {
    if (!rdnEquals(a[i]!, b[reversed ? b.length - 1 - i : i]!)) return false;
  }
  return true;
}

/**
 * distinguishedNameMatch (RFC 4517 §4.2.15) with SPEC §7.2's relaxations: values compared
 * case-insensitively with whitespace trimmed/collapsed, multi-valued RDNs unordered, and the RDN
 * order either equal or exactly reversed. Strings are parsed with {@link parseDn} (which throws
 * {@link DnSyntaxError}).
 */
export function dnEquals(a: RdnSequence | string, b: RdnSequence | string): boolean {
  const left = asRdns(a);
  const right = asRdns(b);
  if (left.length !== right.length) return false;
  return sameOrder(left, right, false) || sameOrder(left, right, true);
}

/**
 * What Go's `cert.Subject.ToRDNSequence()` yields for a parsed certificate (conformance-dcr's
 * `tls_client_auth_subject_dn`): only C, ST, L, STREET, POSTALCODE, O, OU (each as one RDN holding
 * all its values), then the last CN and the last SERIALNUMBER, in that fixed order. Every other
 * attribute (organizationIdentifier, UID, DC, emailAddress, …) is dropped, because a parsed
 * `pkix.Name` keeps them in `Names`, not `ExtraNames`.
 */
export function goCanonicalRdnSequence(subject: RdnSequence): RdnSequence {
  const lists = new Map<string, string[]>();
  let cn: string | null = null;
  let serial: string | null = null;
  for (const rdn of subject) {
    for (const atv of rdn) {
      if (atv.value === null) continue;
      if (atv.type === OID.CN) cn = atv.value;
      else if (atv.type === OID.SERIALNUMBER) serial = atv.value;
      else if (GO_NAMES[atv.type]) lists.set(atv.type, [...(lists.get(atv.type) ?? []), atv.value]);
    }
  }
  const out: Rdn[] = [];
  for (const oid of [OID.C, OID.ST, OID.L, OID.STREET, OID.POSTALCODE, OID.O, OID.OU]) {
    const values = lists.get(oid);
    if (values?.length) out.push(values.map((value) => ({ type: oid, value, der: null })));
  }
  if (cn) out.push([{ type: OID.CN, value: cn, der: null }]);
  if (serial) out.push([{ type: OID.SERIALNUMBER, value: serial, der: null }]);
  return out;
}

/**
 * Does a registered DN string (`tls_client_auth_subject_dn`) describe this certificate subject?
 * True when it equals the subject per {@link dnEquals} (RFC 4514 order or OpenSSL forward order),
 * or equals the Go `ToRDNSequence()` view of the subject ({@link goCanonicalRdnSequence}), which is
 * what conformance-dcr sends. Invalid DN syntax → false.
 */
export function dnMatchesCertificate(dn: string | RdnSequence, subject: RdnSequence): boolean {
  const parsed = typeof dn === 'string' ? tryParseDn(dn) : dn;
  if (!parsed || parsed.length === 0) return false;
  return dnEquals(parsed, subject) || dnEquals(parsed, goCanonicalRdnSequence(subject));
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

function isPrintableStringChar(c: string): boolean {
  return /^[A-Za-z0-9 '()+,\-./:=?]$/.test(c);
}

/** DER of a string value the way Go's `asn1.Marshal(string)` encodes it (PrintableString, else UTF8String). */
function goMarshalString(value: string): Uint8Array {
  const printable = [...value].every(isPrintableStringChar);
  return new Uint8Array(
    AsnConvert.serialize(new AttributeValue(printable ? { printableString: value } : { utf8String: value })),
  );
}

function goEscape(value: string): string {
  let out = '';
  const chars = [...value];
  let byteIndex = 0;
  const lastByte = ENCODER.encode(value).length - 1;
  for (const c of chars) {
    let escape = false;
    if (',+"\\<>;'.includes(c)) escape = true;
    else if (c === ' ') escape = byteIndex === 0 || byteIndex === lastByte;
    else if (c === '#') escape = byteIndex === 0;
    out += escape ? `\\${c}` : c;
    byteIndex += ENCODER.encode(c).length;
  }
  return out;
}

/**
 * Go's `RDNSequence.String()` of the given RDNs: reverse order, `,` between RDNs, `+` inside,
 * names for C/O/OU/CN/SERIALNUMBER/L/ST/STREET/POSTALCODE, `oid=#hex(DER)` for everything else.
 */
export function goRdnSequenceString(rdns: RdnSequence): string {
  return [...rdns]
    .reverse()
    .map((rdn) =>
      rdn
        .map((atv) => {
          const name = GO_NAMES[atv.type];
          if (!name || atv.value === null) {
            const der = atv.value !== null ? goMarshalString(atv.value) : atv.der;
            if (der) return `${atv.type}=#${toHex(der)}`;
          }
          return `${name ?? atv.type}=${goEscape(atv.value ?? '')}`;
        })
        .join('+'),
    )
    .join(',');
}

/** Exactly `cert.Subject.ToRDNSequence().String()` in Go for a parsed certificate's subject. */
export function goSubjectString(subject: RdnSequence): string {
  return goRdnSequenceString(goCanonicalRdnSequence(subject));
}

function rfc4514Escape(value: string): string {
  let out = '';
  const chars = [...value];
  chars.forEach((c, i) => {
    if (',+"\\<>;='.includes(c) || (c === '#' && i === 0) || (c === ' ' && (i === 0 || i === chars.length - 1))) {
      out += `\\${c}`;
    } else if (c === '\u0000') {
      out += '\\00';
    } else {
      out += c;
    }
  });
  return out;
}

/**
 * RFC 4514 string of an {@link RdnSequence}: most specific RDN first, RFC 4514 §3 short names,
 * `oid=#hex` for other types (e.g. `2.5.4.97=#0c0f…`), so the output parses back losslessly.
 */
export function formatDn(rdns: RdnSequence): string {
  return [...rdns]
    .reverse()
    .map((rdn) =>
      rdn
        .map((atv) => {
          const name = RFC4514_NAMES[atv.type];
          if (name && atv.value !== null) return `${name}=${rfc4514Escape(atv.value)}`;
          const der = atv.der ?? (atv.value !== null ? goMarshalString(atv.value) : null);
          return `${atv.type}=#${der ? toHex(der) : ''}`;
        })
        .join('+'),
    )
    .join(',');
}
