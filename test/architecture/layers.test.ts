import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLayers, moduleGraph, ROOT } from '../../scripts/layers.js';

/**
 * The rooms' import rules (scripts/layers.ts), which `npm run build` and `npm test` run first: the
 * tree obeys them, and a wrong-direction import is refused (tried through an overlay, so the tree on
 * disk is never touched).
 */
describe('the import directions between rooms', () => {
  it('the tree has no wrong-direction import', () => {
    expect(checkLayers()).toEqual([]);
  });

  it.each([
    ['services/intake/probe.ts', "import { sandboxTrust } from '../../sandbox/directory-sandbox/index.js';", 'services/ may not import sandbox/'],
    ['services/intake/probe.ts', "import type { RevocationStage } from '../revocation/stage.js';", 'may not import another service'],
    ['core/domain/probe.ts', "export { loadConfig } from '../../platform/config/load.js';", 'core/ may not import platform/'],
    ['platform/http/probe.ts', "const m = await import('../../services/ops/app.js');", 'platform/ may not import services/'],
    ['core/pipeline/probe.ts', "import { describe } from 'vitest';", 'may not import vitest'],
    ['testkit/probe.ts', "import '../test/support/pipeline.js';", 'testkit/ may not import test/'],
    ['bench/probe.ts', "import { startTestPipeline } from '../test/support/pipeline.js';", 'bench/ may not import test/'],
    ['services/gateway-sync/probe.ts', "import { MongoClient } from 'mongodb';", 'the driver mongodb is imported in platform/adapters/ only'],
    ['sandbox/sandbox-as/probe.ts', "import Database from 'better-sqlite3';", 'the driver better-sqlite3 is imported in platform/adapters/ only'],
    ['platform/runtime/probe.ts', "import type { Redis } from 'ioredis';", 'the driver ioredis is imported in platform/adapters/ only'],
  ])('refuses %s: %s', (file, source, rule) => {
    const violations = checkLayers(ROOT, { [file]: source }).filter((v) => v.file === file);
    expect(violations).toHaveLength(1);
    expect(violations[0]?.file).toBe(file);
    expect(violations[0]?.rule).toContain(rule);
  });

  it('allows the sandbox to import product code, and a service its own files', () => {
    const probes = { 'sandbox/probe.ts': "import { intakeService } from '../services/intake/service.js';", 'services/intake/probe.ts': "import { startIntake } from './service.js';" };
    expect(checkLayers(ROOT, probes).filter((v) => v.file in probes)).toEqual([]);
  });

  it('the check script passes on the tree, and npm run build and npm test run it first', () => {
    const ok = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/layers.ts'], { cwd: ROOT, encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/every import points the allowed way/);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toMatch(/check:layers/);
    expect(pkg.scripts.test).toMatch(/check:layers/);
    expect(pkg.scripts['check:layers']).toContain('scripts/layers.ts');
  });
});

/** What a production process loads: no sandbox code, nothing that issues certificates. */
describe('the production entry points', () => {
  const MAINS = ['intake', 'verifier', 'revocation', 'provisioner', 'ops', 'gateway-sync', 'notifier'].map((s) => `services/${s}/main.ts`);
  // What the sandbox CA does to issue certificates (sandbox/directory-sandbox): never in a product graph.
  const ISSUING = /X509CertificateGenerator|createSelfSigned|generateKeyPair\(\s*['"](?:rsa|ec)['"]/;

  it.each(MAINS)('%s reaches no sandbox module and no certificate-issuing code', (main) => {
    const graph = moduleGraph(main);
    expect(graph.length).toBeGreaterThan(20);
    expect(graph.filter((f) => f.startsWith('sandbox/') || f.startsWith('testkit/') || f.startsWith('test/'))).toEqual([]);
    expect(graph.filter((f) => ISSUING.test(readFileSync(join(ROOT, f), 'utf8')))).toEqual([]);
  });

  it('the sandbox launcher does reach the sandbox CA (the check above can see it)', () => {
    const graph = moduleGraph('sandbox/service/main.ts');
    expect(graph.filter((f) => ISSUING.test(readFileSync(join(ROOT, f), 'utf8'))).length).toBeGreaterThan(0);
  });

  /** The intake as an operator starts it, with nothing configured but a data directory. */
  const start = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'services/intake/main.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DCR_LOG_LEVEL: 'error', ...env },
    });

  it('without trust configuration the intake refuses to start, naming every missing variable in one line', () => {
    const r = start({});
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^configuration error: DCR_DIRECTORY_JWKS_URL: required when DCR_SANDBOX=0 \(the directory whose SSAs are trusted\); also missing: DCR_CLIENT_CA_FILE .*, DCR_AS_PROVISIONING .*Trust is never implied outside the sandbox/);
  });

  it('with DCR_SANDBOX=1 the production intake refuses and names the sandbox entry point', () => {
    const r = start({ DCR_SANDBOX: '1' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^configuration error: DCR_SANDBOX: this is the production entry point of intake, which never runs the sandbox: run `node dist\/sandbox\/service\/main.js intake`/);
  });
});
