/**
 * One registration per software (profile field `registrationsPerSoftware`; CDR reference Data Holder
 * ERR-DCR-001, Open Finance Brasil DCR): the provision stage against the real stores of both adapter
 * sets. The store's unique index is the guarantee, so two concurrent requests cannot both win.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MongoStore } from '../../platform/adapters/mongo/mongo-store.js';
import { openEmbeddedDatabase, type EmbeddedDatabase } from '../../platform/adapters/embedded/database.js';
import { SqliteStore } from '../../platform/adapters/embedded/sqlite-store.js';
import { TokenSealer } from '../../platform/crypto/token-sealer.js';
import { RegistrationRejection } from '../../core/domain/errors.js';
import type { Registration } from '../../core/domain/registration.js';
import type { Store } from '../../core/ports/store.js';
import { getProfile, type ProfileName } from '../../core/profiles/index.js';
import { deleteClient, finishDelete } from '../../core/clients/delete-client.js';
import type { AuthorizationServerPort } from '../../core/ports/authorization-server.js';
import { ProvisioningStage } from '../../services/provisioner/stage.js';
import { aRegistration } from '../support/registration.js';
import { StoreOnlyAuthorizationServer } from '../../platform/adapters/authorization-server/store-only.js';

const infra = inject('infra');
const sealer = new TokenSealer(randomBytes(32));
/** The AS reads our client store (DCR_AS_PROVISIONING=store): these tests are about the store's guarantee. */
const as = new StoreOnlyAuthorizationServer();

type Opened = { store: Store; close(): Promise<void> };
const adapterSets: Array<[string, (() => Promise<Opened>) | null]> = [
  [
    'embedded (SQLite)',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'dcr-one-'));
      const db: EmbeddedDatabase = openEmbeddedDatabase(dir);
      return { store: new SqliteStore(db), close: async () => { await db.close(); await rm(dir, { recursive: true, force: true }); } };
    },
  ],
  [
    'distributed (MongoDB)',
    infra
      ? async () => {
          const ns = `o${randomBytes(4).toString('hex')}`;
          const store = await MongoStore.connect(`${infra.mongoUrl}/dcr_${ns}`, ns);
          return { store, close: () => store.close() };
        }
      : null,
  ],
];

/** A registration that passed verification, ready for the provision stage, stored in `store`. */
async function verifiedRegistration(store: Store, softwareId: string, issuer = 'cdr-register'): Promise<Registration> {
  const id = `req-${randomBytes(6).toString('hex')}`;
  const registration = aRegistration(id, {
    status: 'provisioning',
    verified: {
      ssa: { iss: issuer, software_id: softwareId, org_id: 'org-1' },
      metadata: { redirect_uris: ['https://tpp.example.com/cb'], token_endpoint_auth_method: 'private_key_jwt', software_id: softwareId },
      signingKid: 'kid-1',
      softwareJwksUri: 'https://tpp.example.com/jwks',
      orgId: 'org-1',
      softwareId,
    },
  });
  const { registration: stored } = await store.insertRegistration(registration, []);
  return stored;
}

function stageFor(store: Store, profile: ProfileName): ProvisioningStage {
  return new ProvisioningStage({ profile: getProfile(profile), store, sealer, publicUrl: 'https://dcr.example.com', as, applyWaitMs: 1000 });
}

async function clientIdOf(stage: ProvisioningStage, registration: Registration): Promise<string> {
  const result = await stage.run(registration);
  return result.set?.outcome?.response?.client_id as string;
}

async function rejectionOf(promise: Promise<unknown>): Promise<RegistrationRejection> {
  const error: unknown = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(RegistrationRejection);
  return error as RegistrationRejection;
}

describe.each(adapterSets)('one registration per software, %s', (_name, open) => {
  let opened: Opened;
  beforeAll(async () => {
    if (open) opened = await open();
  });
  afterAll(async () => {
    await opened?.close();
  });

  describe.each(['cdr', 'openfinance-br'] as const)('profile %s', (profile) => {
    it.skipIf(!open)('a second request for the same software is rejected naming the existing client; redelivery returns the original', async () => {
      const { store } = opened;
      const stage = stageFor(store, profile);
      const software = `sw${randomBytes(4).toString('hex')}`;
      const first = await verifiedRegistration(store, software);
      const clientId = await clientIdOf(stage, first);
      expect(clientId).toMatch(/\S/);

      const second = await verifiedRegistration(store, software);
      const rejection = await rejectionOf(stage.run(second));
      expect(rejection.error).toBe('invalid_client_metadata');
      expect(rejection.errorDescription).toContain(clientId);

      // The first request redelivered (at-least-once) is the same client, not a conflict.
      const again = (await store.getRegistration(first.id)) as Registration;
      expect(await clientIdOf(stage, again)).toBe(clientId);
      expect((await store.getClient(clientId))?.status).toBe('active');
    });

    it.skipIf(!open)('two concurrent requests for one software: exactly one client', async () => {
      const { store } = opened;
      const stage = stageFor(store, profile);
      const software = `sw${randomBytes(4).toString('hex')}`;
      const requests = await Promise.all(Array.from({ length: 4 }, () => verifiedRegistration(store, software)));
      const results = await Promise.allSettled(requests.map((r) => stage.run(r)));
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(3);
      for (const l of lost) expect((l.reason as RegistrationRejection).error).toBe('invalid_client_metadata');
    });

    it.skipIf(!open)('a client being deleted (its AS delete not yet done) still holds the software; once deleted it frees it', async () => {
      const { store } = opened;
      const stage = stageFor(store, profile);
      const software = `sw${randomBytes(4).toString('hex')}`;
      const firstId = await clientIdOf(stage, await verifiedRegistration(store, software));
      const first = (await store.getClient(firstId))!;
      // A DELETE that died after recording its intent, before the AS delete (an AS that fails).
      const failingAs: AuthorizationServerPort = { name: as.name, deleteClient: () => Promise.reject(new Error('AS down')), upsertClient: (c) => as.upsertClient(c), awaitApplied: (c) => as.awaitApplied(c), close: () => as.close() };
      await expect(deleteClient(store, failingAs, first)).rejects.toThrow(/AS down/);
      const deleting = (await store.getClient(firstId))!;
      expect(deleting).toMatchObject({ status: 'deleting', activeSoftwareKey: `cdr-register ${software}` });

      const refused = await rejectionOf(stage.run(await verifiedRegistration(store, software)));
      expect(refused.error).toBe('invalid_client_metadata');
      expect(refused.errorDescription).toContain(firstId);

      expect(await finishDelete(store, as, deleting)).toMatchObject({ status: 'deleted' });
      const secondId = await clientIdOf(stage, await verifiedRegistration(store, software));
      expect(secondId).not.toBe(firstId);
      expect((await store.getClient(secondId))?.activeSoftwareKey).toBe(`cdr-register ${software}`);
    });

    it.skipIf(!open)('a deleted client frees the software', async () => {
      const { store } = opened;
      const stage = stageFor(store, profile);
      const software = `sw${randomBytes(4).toString('hex')}`;
      const firstId = await clientIdOf(stage, await verifiedRegistration(store, software));
      const first = await store.getClient(firstId);
      await deleteClient(store, as, first!);
      const deleted = await store.getClient(firstId);
      expect(deleted?.status).toBe('deleted');
      expect(deleted?.activeSoftwareKey).toBeUndefined();

      const secondId = await clientIdOf(stage, await verifiedRegistration(store, software));
      expect(secondId).not.toBe(firstId);
      expect((await store.getClient(secondId))?.activeSoftwareKey).toBe(`cdr-register ${software}`);
    });

    it.skipIf(!open)('the software is scoped to its SSA issuer', async () => {
      const { store } = opened;
      const stage = stageFor(store, profile);
      const software = `sw${randomBytes(4).toString('hex')}`;
      const a = await clientIdOf(stage, await verifiedRegistration(store, software, 'issuer-a'));
      const b = await clientIdOf(stage, await verifiedRegistration(store, software, 'issuer-b'));
      expect(a).not.toBe(b);
    });
  });

  it.skipIf(!open)("a profile with registrationsPerSoftware 'many' (obie-3.3) registers the same software twice", async () => {
    const { store } = opened;
    const stage = stageFor(store, 'obie-3.3');
    const software = `sw${randomBytes(4).toString('hex')}`;
    const a = await clientIdOf(stage, await verifiedRegistration(store, software));
    const b = await clientIdOf(stage, await verifiedRegistration(store, software));
    expect(a).not.toBe(b);
    expect((await store.getClient(a))?.activeSoftwareKey).toBeUndefined();
  });
});
