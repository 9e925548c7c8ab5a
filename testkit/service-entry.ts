/**
 * How a test, a bench or a launcher runs one service of the pipeline as its own process in sandbox
 * mode: the product services through the sandbox launcher (sandbox/service/main.ts, which gives them
 * the sandbox directory's trust), the sandbox's own servers through their mains. The production
 * entry points (services/<name>/main.ts) refuse DCR_SANDBOX=1.
 */
export const PRODUCT_SERVICES = ['intake', 'verifier', 'revocation', 'provisioner', 'ops', 'gateway-sync', 'notifier'] as const;

/** The script and its arguments, relative to the repository root: sources (`.ts`, run with tsx) or `dist/` (`.js`). */
export function sandboxServiceArgs(name: string, build: 'source' | 'dist' = 'source'): string[] {
  const file = (path: string) => (build === 'dist' ? `dist/${path}.js` : `${path}.ts`);
  if ((PRODUCT_SERVICES as readonly string[]).includes(name)) return [file('sandbox/service/main'), name];
  if (name === 'sandbox-as' || name === 'directory-sandbox') return [file(`sandbox/${name}/main`)];
  throw new Error(`no such service: ${name}`);
}
