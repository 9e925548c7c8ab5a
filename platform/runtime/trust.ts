import { readFileSync } from 'node:fs';
import { ConfigurationError } from '../../core/domain/errors.js';
import type { Config } from '../config/schema.js';

/** Every trust decision's inputs, resolved once at start-up. */
export interface Trust {
  /** CAs whose client certificates the intake accepts (`DCR_CLIENT_CA_FILE`). */
  clientCaPems: string[];
  /** Extra CAs for outbound HTTPS (`DCR_OUTBOUND_CA_FILE`). */
  outboundCaPems: string[];
  /** The directory's SSA signing keys (`DCR_DIRECTORY_JWKS_URL`). */
  directoryJwksUrl: string;
  /** host[:port] outbound allow-list (`DCR_ALLOWED_FETCH_HOSTS`, plus the directory's host). */
  allowedFetchHosts: string[];
  /** The intake's server certificate (`DCR_TLS_CERT_FILE`, `DCR_TLS_KEY_FILE`). */
  server?: { certPem: string; keyPem: string };
}

function readPem(variable: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigurationError(variable, `cannot read '${file}': ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** Splits a PEM bundle into certificates. */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function hostOf(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' ? u.host : null;
  } catch {
    return null;
  }
}

/** Trust from configuration files only (production: `DCR_SANDBOX=0`). */
export function trustFromConfig(config: Config): Trust {
  const clientCaPems = config.tls.clientCaFile ? splitPemBundle(readPem('DCR_CLIENT_CA_FILE', config.tls.clientCaFile)) : [];
  if (config.tls.clientCaFile && clientCaPems.length === 0) throw new ConfigurationError('DCR_CLIENT_CA_FILE', 'contains no PEM certificate');
  const outboundCaPems = config.outboundCaFile ? splitPemBundle(readPem('DCR_OUTBOUND_CA_FILE', config.outboundCaFile)) : [];
  const directoryJwksUrl = config.directoryJwksUrl ?? '';
  const directoryHost = hostOf(directoryJwksUrl);
  const allowedFetchHosts = [...config.allowedFetchHosts];
  if (directoryHost && !allowedFetchHosts.includes(directoryHost)) allowedFetchHosts.push(directoryHost);
  const trust: Trust = { clientCaPems, outboundCaPems, directoryJwksUrl, allowedFetchHosts };
  if (config.tls.certFile || config.tls.keyFile) {
    if (!config.tls.certFile) throw new ConfigurationError('DCR_TLS_CERT_FILE', 'required with DCR_TLS_KEY_FILE');
    if (!config.tls.keyFile) throw new ConfigurationError('DCR_TLS_KEY_FILE', 'required with DCR_TLS_CERT_FILE');
    trust.server = { certPem: readPem('DCR_TLS_CERT_FILE', config.tls.certFile), keyPem: readPem('DCR_TLS_KEY_FILE', config.tls.keyFile) };
  }
  return trust;
}
