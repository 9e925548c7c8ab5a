/**
 * SandboxDirectory: a regulated directory for development and tests (UK OB Directory-like).
 * State lives under DATA_DIR/sandbox/ and is shared by every process opening the same data dir.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { JWK } from 'jose';
import { CertificateAuthority, generateRootCa } from './ca.js';
import { SandboxConflictError, SandboxInputError, SandboxNotFoundError } from './errors.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, isErrno, writeFileAtomic } from './fs-util.js';
import { TPP_NAME_PATTERN, newOrgId, newSoftwareId } from './ids.js';
import { certificateJwk, certificateSha1Thumbprint } from './jwks.js';
import type { SigningAlg } from './jwks.js';
import { DEFAULT_SSA_ISSUER, SsaSigner, applyOverrides, ssaClaimsFor } from './ssa.js';
import type { SandboxEcosystem, SsaSubject } from './ssa.js';
import { StateStore, emptyState } from './state.js';
import type { DirectoryState, OrgStatus, SoftwareStatus, TppRecord } from './state.js';
import { generateTppMaterial, readTppFiles, transportSubjectDn, writeTppFiles } from './tpp.js';
import type { TppFiles, TppMetadata } from './tpp.js';
import { createOcspResponse } from './ocsp.js';
import type { SandboxCertificateStatus } from './ocsp.js';
import type { CryptoKey } from './webcrypto.js';
import { RSA_PKCS1_SHA256, RSA_PSS_SHA256, exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem, normaliseSerial, x509 } from './webcrypto.js';

export const SANDBOX_FILES = {
  caCert: 'ca.crt.pem',
  caKey: 'ca.key.pem',
  signingCert: 'directory-signing.crt.pem',
  signingKey: 'directory-signing.key.pem',
  state: 'state.json',
  tpps: 'tpps',
} as const;

const DIRECTORY_SIGNING_VALIDITY_DAYS = 1825;
const SERVER_CERT_VALIDITY_DAYS = 365;

export interface SandboxTpp {
  name: string;
  orgId: string;
  /** Extra: the organisation's display name (SSA `org_name`). */
  orgName: string;
  softwareId: string;
  roles: string[];
  redirectUris: string[];
  signingAlg: SigningAlg;
  signingKid: string;
  /** DATA_DIR/sandbox/tpps/<name> (absolute). */
  dir: string;
  /** Client certificate for mTLS, chained to the sandbox CA. */
  transportCertPem: string;
  transportKeyPem: string;
  /** Extra: the transport certificate's subject, RFC 4514 order (`tls_client_auth_subject_dn`). */
  transportSubjectDn: string;
  /** Extra: the transport certificate's serial number, lower-case hex. */
  transportSerial: string;
  /** Extra: `kid` of the transport key in the software JWKS (`use: 'tls'`). */
  transportKid: string;
  /** Private signing key (also saved as signing.jwk.json, mode 0600), with `kid`, `alg`, `use`. */
  signingPrivateJwk: JWK;
  /** The software statement (compact JWS) issued at creation. */
  ssa: string;
  softwareJwksUrl: string;
  softwareJwksRevokedUrl: string;
  orgJwksUrl: string;
  orgJwksRevokedUrl: string;
}

export interface SandboxDirectoryOptions {
  dataDir: string;
  /** e.g. `https://localhost:8444`: used in SSA endpoints, CRL distribution points, OCSP URLs. */
  baseUrl: string;
  /** SSA `iss`; default `OpenBanking Ltd`. */
  ssaIssuer?: string;
  /** Which directory the sandbox plays: SSA and certificate shapes (default `obie`). */
  ecosystem?: SandboxEcosystem;
}

export interface CreateTppOptions {
  /** Default `['AISP', 'PISP']`. */
  roles?: string[];
  /** Default `[https://<name>.example.com/callback]`. */
  redirectUris?: string[];
  /** Default `PS256`. */
  signingAlg?: SigningAlg;
  /** Default `<name> Ltd`. */
  orgName?: string;
}

export type JwksSet = 'active' | 'revoked';

export interface Jwks {
  keys: JWK[];
}

export class SandboxDirectory {
  readonly dataDir: string;
  /** DATA_DIR/sandbox (absolute). */
  readonly sandboxDir: string;
  readonly baseUrl: string;
  readonly ssaIssuer: string;
  readonly ecosystem: SandboxEcosystem;
  /** The sandbox root CA: trust anchor for TPP client certificates and the sandbox's server certificates. */
  readonly caCertPem: string;
  /** `${baseUrl}/directory/jwks`: public SSA signing keys. */
  readonly directoryJwksUrl: string;
  /** `${baseUrl}/crl/ca.crl` (CRL distribution point of every issued certificate). */
  readonly crlUrl: string;
  /** `${baseUrl}/ocsp` (AIA OCSP URL of every issued certificate; see {@link ocspResponse}). */
  readonly ocspUrl: string;
  /** `${baseUrl}/ca/ca.crt` (AIA caIssuers: the CA certificate, DER). */
  readonly caCertUrl: string;

  readonly #ca: CertificateAuthority;
  readonly #signer: SsaSigner;
  readonly #directoryJwk: JWK;
  readonly #store: StateStore;
  /** The CA key for OCSP signing, imported on first use. */
  #ocspKey: Promise<CryptoKey> | undefined;

  private constructor(init: {
    dataDir: string;
    sandboxDir: string;
    baseUrl: string;
    ssaIssuer: string;
    ecosystem: SandboxEcosystem;
    ca: CertificateAuthority;
    signer: SsaSigner;
    directoryJwk: JWK;
    store: StateStore;
  }) {
    this.dataDir = init.dataDir;
    this.sandboxDir = init.sandboxDir;
    this.baseUrl = init.baseUrl;
    this.ssaIssuer = init.ssaIssuer;
    this.ecosystem = init.ecosystem;
    this.#ca = init.ca;
    this.#signer = init.signer;
    this.#directoryJwk = init.directoryJwk;
    this.#store = init.store;
    this.caCertPem = init.ca.certPem;
    this.directoryJwksUrl = `${this.baseUrl}/directory/jwks`;
    this.crlUrl = `${this.baseUrl}/crl/ca.crl`;
    this.ocspUrl = `${this.baseUrl}/ocsp`;
    this.caCertUrl = `${this.baseUrl}/ca/ca.crt`;
  }

  /** Loads DATA_DIR/sandbox/, creating the CA, the directory signing key and the state on first use. */
  static async open(opts: SandboxDirectoryOptions): Promise<SandboxDirectory> {
    const baseUrl = normaliseBaseUrl(opts.baseUrl);
    const dataDir = resolve(opts.dataDir);
    const sandboxDir = join(dataDir, 'sandbox');
    await mkdir(join(sandboxDir, SANDBOX_FILES.tpps), { recursive: true, mode: PRIVATE_DIR_MODE });
    const store = new StateStore(join(sandboxDir, SANDBOX_FILES.state));
    const file = (name: string) => join(sandboxDir, name);
    const required = [SANDBOX_FILES.caCert, SANDBOX_FILES.caKey, SANDBOX_FILES.signingCert, SANDBOX_FILES.signingKey];

    if (!(await allExist([...required.map(file), store.file]))) {
      await store.withLock(() => initialise(sandboxDir, baseUrl, store));
    }

    const [caCertPem, caKeyPem, signingCertPem, signingKeyPem] = await Promise.all(
      required.map((f) => readFile(file(f), 'utf8')),
    );
    const [ca, signingKey] = await Promise.all([
      CertificateAuthority.load({ certPem: caCertPem as string, keyPem: caKeyPem as string }),
      importPrivateKeyPem(signingKeyPem as string, RSA_PSS_SHA256),
    ]);
    const signingCert = new x509.X509Certificate(signingCertPem as string);
    const kid = await certificateSha1Thumbprint(signingCert);
    const directoryJwk = await certificateJwk(signingCert, { use: 'sig', alg: 'PS256', kid, chain: [ca.cert] });
    return new SandboxDirectory({
      dataDir,
      sandboxDir,
      baseUrl,
      ssaIssuer: opts.ssaIssuer ?? DEFAULT_SSA_ISSUER,
      ecosystem: opts.ecosystem ?? 'obie',
      ca,
      signer: new SsaSigner(signingKey, kid),
      directoryJwk,
      store,
    });
  }

  // ---------------------------------------------------------------- URLs

  softwareJwksUrl(orgId: string, softwareId: string): string {
    return `${this.baseUrl}/tpp/${orgId}/${softwareId}/jwks`;
  }
  softwareJwksRevokedUrl(orgId: string, softwareId: string): string {
    return `${this.baseUrl}/tpp/${orgId}/${softwareId}/revoked`;
  }
  orgJwksUrl(orgId: string): string {
    return `${this.baseUrl}/org/${orgId}/jwks`;
  }
  orgJwksRevokedUrl(orgId: string): string {
    return `${this.baseUrl}/org/${orgId}/revoked`;
  }

  // ---------------------------------------------------------------- keys and certificates

  /** The directory's public SSA signing keys. */
  async directoryJwks(): Promise<Jwks> {
    return { keys: [structuredClone(this.#directoryJwk)] };
  }

  /** The CA certificate, DER. */
  caCertDer(): Uint8Array {
    return new Uint8Array(this.#ca.cert.rawData);
  }

  /** A TLS server certificate (RSA 2048, serverAuth) for the given DNS names / IP addresses. */
  async issueServerCertificate(hostnames: string[]): Promise<{ certPem: string; keyPem: string }> {
    if (!Array.isArray(hostnames) || hostnames.length === 0 || hostnames.some((h) => typeof h !== 'string' || h === '')) {
      throw new SandboxInputError('issueServerCertificate needs at least one host name or IP address');
    }
    const keys = await generateKeyPair(RSA_PKCS1_SHA256);
    const cert = await this.#ca.issue({
      subject: [{ C: ['GB'] }, { O: ['DCR Sandbox'] }, { CN: [hostnames[0] as string] }],
      publicKey: keys.publicKey,
      profile: 'tls-server',
      validityDays: SERVER_CERT_VALIDITY_DAYS,
      hostnames,
      crlUrl: this.crlUrl,
      ocspUrl: this.ocspUrl,
      caIssuersUrl: this.caCertUrl,
    });
    return { certPem: cert.toString('pem'), keyPem: await exportPrivateKeyPem(keys.privateKey) };
  }

  /** A freshly signed CRL of the sandbox CA (thisUpdate = now, nextUpdate = now + 1 h), DER. */
  async crlDer(): Promise<Uint8Array> {
    const state = await this.#store.read();
    const crl = await this.#ca.createCrl(
      state.revokedCertificates.map((r) => ({ serial: r.serial, revokedAt: new Date(r.revokedAt) })),
    );
    return new Uint8Array(crl.rawData);
  }

  /**
   * Revocation status of a certificate issued by the sandbox CA, by hex serial: `revoked` when its
   * serial is in the CRL, `good` for a TPP transport certificate, `unknown` otherwise.
   */
  async certificateStatus(serial: string): Promise<SandboxCertificateStatus> {
    return statusOfSerial(await this.#store.read(), serial);
  }

  /** The DER OCSPResponse (RFC 6960, signed by the CA) to a DER OCSPRequest. */
  async ocspResponse(requestDer: Uint8Array): Promise<Uint8Array> {
    this.#ocspKey ??= readFile(join(this.sandboxDir, SANDBOX_FILES.caKey), 'utf8').then((pem) => importPrivateKeyPem(pem, RSA_PKCS1_SHA256));
    let key: CryptoKey;
    try {
      key = await this.#ocspKey;
    } catch (error) {
      this.#ocspKey = undefined;
      throw error;
    }
    const state = await this.#store.read();
    return createOcspResponse(requestDer, { ca: this.#ca.cert, key, status: (serial) => statusOfSerial(state, serial) });
  }

  // ---------------------------------------------------------------- TPPs

  async createTpp(name: string, opts: CreateTppOptions = {}): Promise<SandboxTpp> {
    assertTppName(name);
    const roles = opts.roles ?? ['AISP', 'PISP'];
    if (!Array.isArray(roles) || roles.length === 0 || roles.some((r) => typeof r !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(r))) {
      throw new SandboxInputError('roles must be a non-empty list of role names such as AISP, PISP, CBPII');
    }
    const signingAlg = opts.signingAlg ?? 'PS256';
    if (signingAlg !== 'PS256' && signingAlg !== 'ES256') {
      throw new SandboxInputError(`signingAlg must be PS256 or ES256, got ${String(signingAlg)}`);
    }
    const host = `${name.toLowerCase()}.example.com`;
    const redirectUris = opts.redirectUris ?? [`https://${host}/callback`];
    if (!Array.isArray(redirectUris) || redirectUris.some((u) => typeof u !== 'string' || !URL.canParse(u))) {
      throw new SandboxInputError('redirectUris must be absolute URLs');
    }
    const orgName = opts.orgName ?? `${name} Ltd`;
    if ((await this.#store.read()).tpps[name]) throw new SandboxConflictError(`sandbox TPP "${name}" already exists`);

    const orgId = newOrgId();
    const softwareId = newSoftwareId();
    const material = await generateTppMaterial(this.#ca, {
      orgId,
      softwareId,
      signingAlg,
      crlUrl: this.crlUrl,
      ocspUrl: this.ocspUrl,
      caIssuersUrl: this.caCertUrl,
      ecosystem: this.ecosystem,
      host,
    });
    const createdAt = new Date().toISOString();
    const meta: TppMetadata = {
      name,
      orgId,
      orgName,
      softwareId,
      clientName: name.slice(0, 40),
      host,
      roles: [...roles],
      redirectUris: [...redirectUris],
      signingAlg,
      signingKid: material.signingKid,
      transportKid: material.transportKid,
      transportSerial: material.transportSerial,
      transportSubjectDn: transportSubjectDn(orgId, softwareId, this.ecosystem, host),
      createdAt,
      urls: {
        softwareJwks: this.softwareJwksUrl(orgId, softwareId),
        softwareJwksRevoked: this.softwareJwksRevokedUrl(orgId, softwareId),
        orgJwks: this.orgJwksUrl(orgId),
        orgJwksRevoked: this.orgJwksRevokedUrl(orgId),
      },
    };
    const ssa = await this.#signer.sign(ssaClaimsFor(this.ecosystem, this.#ssaSubject(meta, 'Active')));
    const files: TppFiles = {
      meta,
      transportCertPem: material.transportCertPem,
      transportKeyPem: material.transportKeyPem,
      signingPrivateJwk: material.signingPrivateJwk,
      caCertPem: this.caCertPem,
      ssa,
      ...(material.encryption ? { encryptionPrivateJwk: material.encryption.privateJwk } : {}),
    };
    const tppsDir = join(this.sandboxDir, SANDBOX_FILES.tpps);
    const finalDir = join(tppsDir, name);
    const tmpDir = join(tppsDir, `.tmp-${randomUUID()}`);
    await writeTppFiles(tmpDir, files);
    try {
      await this.#store.update(async (state) => {
        if (state.tpps[name]) throw new SandboxConflictError(`sandbox TPP "${name}" already exists`);
        // A directory without a state entry is a leftover of an interrupted creation.
        await rm(finalDir, { recursive: true, force: true });
        await rename(tmpDir, finalDir);
        state.orgs[orgId] = { orgId, name: orgName, status: 'Active', createdAt };
        state.software[softwareId] = { softwareId, orgId, tppName: name, status: 'Active', createdAt };
        state.tpps[name] = {
          name,
          orgId,
          softwareId,
          createdAt,
          signingKey: { kid: material.signingKid, jwk: material.signingPublicJwk },
          transportKey: { kid: material.transportKid, jwk: material.transportJwk, serial: material.transportSerial },
          ...(material.encryption ? { encryptionKey: { kid: material.encryption.publicJwk.kid as string, jwk: material.encryption.publicJwk } } : {}),
        };
      });
    } finally {
      await rm(tmpDir, { recursive: true, force: true });
    }
    return this.#toSandboxTpp(finalDir, files);
  }

  async getTpp(name: string): Promise<SandboxTpp | undefined> {
    if (typeof name !== 'string' || !TPP_NAME_PATTERN.test(name)) return undefined;
    const state = await this.#store.read();
    if (!state.tpps[name]) return undefined;
    const dir = join(this.sandboxDir, SANDBOX_FILES.tpps, name);
    return this.#toSandboxTpp(dir, await readTppFiles(dir));
  }

  /** Every TPP, oldest first. */
  async listTpps(): Promise<SandboxTpp[]> {
    const state = await this.#store.read();
    const names = Object.values(state.tpps)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name))
      .map((t) => t.name);
    const tpps = await Promise.all(names.map((n) => this.getTpp(n)));
    return tpps.filter((t): t is SandboxTpp => t !== undefined);
  }

  /**
   * A fresh SSA (new `jti`/`iat`, current `org_status`) for the TPP. `overrides` are merged into the
   * claims (shallow; an `undefined` value removes the claim) — for tests.
   */
  async issueSsa(name: string, overrides?: Record<string, unknown>): Promise<string> {
    const tpp = await this.#requireTpp(name);
    const files = await readTppFiles(join(this.sandboxDir, SANDBOX_FILES.tpps, tpp.name));
    const state = await this.#store.read();
    const orgStatus = state.orgs[tpp.orgId]?.status ?? 'Active';
    return this.#signer.sign(applyOverrides(ssaClaimsFor(this.ecosystem, this.#ssaSubject(files.meta, orgStatus)), overrides));
  }

  // ---------------------------------------------------------------- revocation and outage

  async revokeOrganisation(orgId: string): Promise<void> {
    await this.#store.update((state) => {
      const org = state.orgs[orgId];
      if (!org) throw new SandboxNotFoundError(`unknown organisation ${orgId}`);
      if (org.status !== 'Revoked') {
        org.status = 'Revoked';
        org.revokedAt = new Date().toISOString();
      }
    });
  }

  async revokeSoftware(softwareId: string): Promise<void> {
    await this.#store.update((state) => {
      const sw = state.software[softwareId];
      if (!sw) throw new SandboxNotFoundError(`unknown software ${softwareId}`);
      if (sw.status !== 'Inactive') {
        sw.status = 'Inactive';
        sw.revokedAt = new Date().toISOString();
      }
    });
  }

  /** Moves the TPP's signing key from the software/org JWKS to the revoked JWKS. */
  async revokeSigningKey(name: string): Promise<void> {
    await this.#store.update((state) => {
      const tpp = requireRecord(state, name);
      tpp.signingKey.revokedAt ??= new Date().toISOString();
    });
  }

  /**
   * Revokes the TPP's transport certificate: its serial is listed in the CRL and, unless
   * `opts.revokedJwks` is false, its key moves from the JWKS to the revoked JWKS (as the OB
   * Directory does). `{ revokedJwks: false }` lets a test exercise the CRL path alone.
   */
  async revokeTransportCertificate(name: string, opts: { revokedJwks?: boolean } = {}): Promise<void> {
    await this.#store.update((state) => {
      const tpp = requireRecord(state, name);
      const now = new Date().toISOString();
      const serial = normaliseSerial(tpp.transportKey.serial);
      if (!state.revokedCertificates.some((r) => normaliseSerial(r.serial) === serial)) {
        state.revokedCertificates.push({ serial, revokedAt: now, tppName: name });
      }
      if (opts.revokedJwks !== false) tpp.transportKey.revokedAt ??= now;
    });
  }

  /** While on, the server answers 503 to every request. */
  async setOutage(on: boolean): Promise<void> {
    await this.#store.update((state) => {
      state.outage = on;
    });
  }

  // ---------------------------------------------------------------- queries (used by the server)

  async isOutage(): Promise<boolean> {
    return (await this.#store.read()).outage;
  }

  /** The software's active or revoked JWKS; undefined if the org/software pair is unknown. */
  async softwareJwks(orgId: string, softwareId: string, set: JwksSet = 'active'): Promise<Jwks | undefined> {
    const state = await this.#store.read();
    const sw = state.software[softwareId];
    if (!sw || sw.orgId !== orgId) return undefined;
    const tpp = state.tpps[sw.tppName];
    return { keys: tpp ? selectKeys(tpp, set) : [] };
  }

  /** The organisation's active or revoked JWKS (keys of all its software); undefined if unknown. */
  async orgJwks(orgId: string, set: JwksSet = 'active'): Promise<Jwks | undefined> {
    const state = await this.#store.read();
    if (!state.orgs[orgId]) return undefined;
    const tpps = Object.values(state.tpps).filter((t) => t.orgId === orgId);
    return { keys: tpps.flatMap((t) => selectKeys(t, set)) };
  }

  async organisationStatus(orgId: string): Promise<OrgStatus | undefined> {
    return (await this.#store.read()).orgs[orgId]?.status;
  }

  async softwareStatus(softwareId: string): Promise<SoftwareStatus | undefined> {
    return (await this.#store.read()).software[softwareId]?.status;
  }

  async organisationStatuses(): Promise<Array<{ orgId: string; status: OrgStatus }>> {
    const state = await this.#store.read();
    return Object.values(state.orgs).map((o) => ({ orgId: o.orgId, status: o.status }));
  }

  async softwareStatuses(): Promise<Array<{ softwareId: string; orgId: string; status: SoftwareStatus }>> {
    const state = await this.#store.read();
    return Object.values(state.software).map((s) => ({ softwareId: s.softwareId, orgId: s.orgId, status: s.status }));
  }

  /** Serials (lower-case hex) currently listed in the CRL. */
  async revokedCertificateSerials(): Promise<string[]> {
    return (await this.#store.read()).revokedCertificates.map((r) => r.serial);
  }

  // ---------------------------------------------------------------- internals

  async #requireTpp(name: string): Promise<TppRecord> {
    const state = await this.#store.read();
    return requireRecord(state, name);
  }

  #ssaSubject(meta: TppMetadata, orgStatus: string): SsaSubject {
    return {
      issuer: this.ssaIssuer,
      orgId: meta.orgId,
      orgName: meta.orgName,
      orgStatus,
      softwareId: meta.softwareId,
      clientName: meta.clientName,
      host: meta.host,
      roles: meta.roles,
      redirectUris: meta.redirectUris,
      softwareJwksUrl: this.softwareJwksUrl(meta.orgId, meta.softwareId),
      softwareJwksRevokedUrl: this.softwareJwksRevokedUrl(meta.orgId, meta.softwareId),
      orgJwksUrl: this.orgJwksUrl(meta.orgId),
      orgJwksRevokedUrl: this.orgJwksRevokedUrl(meta.orgId),
    };
  }

  #toSandboxTpp(dir: string, files: TppFiles): SandboxTpp {
    const m = files.meta;
    return {
      name: m.name,
      orgId: m.orgId,
      orgName: m.orgName,
      softwareId: m.softwareId,
      roles: [...m.roles],
      redirectUris: [...m.redirectUris],
      signingAlg: m.signingAlg,
      signingKid: m.signingKid,
      dir,
      transportCertPem: files.transportCertPem,
      transportKeyPem: files.transportKeyPem,
      transportSubjectDn: m.transportSubjectDn,
      transportSerial: m.transportSerial,
      transportKid: m.transportKid,
      signingPrivateJwk: files.signingPrivateJwk,
      ssa: files.ssa,
      softwareJwksUrl: this.softwareJwksUrl(m.orgId, m.softwareId),
      softwareJwksRevokedUrl: this.softwareJwksRevokedUrl(m.orgId, m.softwareId),
      orgJwksUrl: this.orgJwksUrl(m.orgId),
      orgJwksRevokedUrl: this.orgJwksRevokedUrl(m.orgId),
    };
  }
}

function statusOfSerial(state: DirectoryState, serial: string): SandboxCertificateStatus {
  const wanted = normaliseSerial(serial);
  const revoked = state.revokedCertificates.find((r) => normaliseSerial(r.serial) === wanted);
  if (revoked) return { status: 'revoked', revokedAt: new Date(revoked.revokedAt) };
  if (Object.values(state.tpps).some((t) => normaliseSerial(t.transportKey.serial) === wanted)) return { status: 'good' };
  return { status: 'unknown' };
}

function selectKeys(tpp: TppRecord, set: JwksSet): JWK[] {
  return [tpp.signingKey, tpp.transportKey, ...(tpp.encryptionKey ? [tpp.encryptionKey] : [])]
    .filter((k) => (set === 'revoked') === (k.revokedAt !== undefined))
    .map((k) => structuredClone(k.jwk));
}

function requireRecord(state: DirectoryState, name: string): TppRecord {
  const tpp = Object.hasOwn(state.tpps, name) ? state.tpps[name] : undefined;
  if (!tpp) throw new SandboxNotFoundError(`unknown sandbox TPP "${name}"`);
  return tpp;
}

function assertTppName(name: string): void {
  if (typeof name !== 'string' || !TPP_NAME_PATTERN.test(name)) {
    throw new SandboxInputError(
      `invalid TPP name ${JSON.stringify(name)}: use 1-63 letters, digits and inner hyphens (it becomes a host name)`,
    );
  }
}

function normaliseBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new SandboxInputError(`baseUrl is not a URL: ${JSON.stringify(baseUrl)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new SandboxInputError('baseUrl must be an https URL');
  if (url.search || url.hash || url.username || url.password) {
    throw new SandboxInputError('baseUrl must not carry a query, fragment or credentials');
  }
  return url.href.replace(/\/+$/, '');
}

async function allExist(paths: string[]): Promise<boolean> {
  for (const p of paths) {
    try {
      await stat(p);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }
  return true;
}

/** First-use set-up, under the state lock (another process may be doing the same). */
async function initialise(sandboxDir: string, baseUrl: string, store: StateStore): Promise<void> {
  const file = (name: string) => join(sandboxDir, name);
  if (!(await allExist([file(SANDBOX_FILES.caCert), file(SANDBOX_FILES.caKey)]))) {
    const ca = await generateRootCa();
    // Key first: a certificate without its key would look complete.
    await writeFileAtomic(file(SANDBOX_FILES.caKey), ca.keyPem, PRIVATE_FILE_MODE);
    await writeFileAtomic(file(SANDBOX_FILES.caCert), ca.certPem, PUBLIC_FILE_MODE);
    await rm(file(SANDBOX_FILES.signingCert), { force: true });
  }
  if (!(await allExist([file(SANDBOX_FILES.signingCert), file(SANDBOX_FILES.signingKey)]))) {
    const ca = await CertificateAuthority.load({
      certPem: await readFile(file(SANDBOX_FILES.caCert), 'utf8'),
      keyPem: await readFile(file(SANDBOX_FILES.caKey), 'utf8'),
    });
    const keys = await generateKeyPair(RSA_PSS_SHA256);
    const cert = await ca.issue({
      subject: [{ C: ['GB'] }, { O: ['OpenBanking'] }, { OU: ['DCR Sandbox Directory'] }, { CN: ['DCR Sandbox SSA Signing'] }],
      publicKey: keys.publicKey,
      profile: 'signing',
      validityDays: DIRECTORY_SIGNING_VALIDITY_DAYS,
      crlUrl: `${baseUrl}/crl/ca.crl`,
      ocspUrl: `${baseUrl}/ocsp`,
      caIssuersUrl: `${baseUrl}/ca/ca.crt`,
    });
    await writeFileAtomic(file(SANDBOX_FILES.signingKey), await exportPrivateKeyPem(keys.privateKey), PRIVATE_FILE_MODE);
    await writeFileAtomic(file(SANDBOX_FILES.signingCert), cert.toString('pem'), PUBLIC_FILE_MODE);
  }
  if (!(await store.exists())) await store.write(emptyState());
}
