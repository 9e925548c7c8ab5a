import { request } from 'node:https';

export interface MtlsIdentity {
  certPem: string;
  keyPem: string;
  /** Trust anchors for the server certificate. */
  caPem: string | string[];
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

/** One HTTPS request with an optional client certificate; a fresh connection each time (as TPPs do). */
export function httpsRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; identity?: Partial<MtlsIdentity>; timeoutMs?: number },
): Promise<HttpResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        protocol: 'https:',
        hostname: u.hostname,
        port: u.port || 443,
        path: `${u.pathname}${u.search}`,
        method: options.method ?? 'GET',
        headers: { ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}), ...options.headers },
        ...(options.identity?.certPem ? { cert: options.identity.certPem, key: options.identity.keyPem } : {}),
        ...(options.identity?.caPem ? { ca: options.identity.caPem } : {}),
        agent: false,
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${u.origin} timed out`)));
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}
