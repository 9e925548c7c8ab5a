/**
 * Run as a separate process by server.test.ts: opens the sandbox directory on a data dir and
 * performs one operation, to prove that a running server sees changes made by another process.
 * Usage: node --import tsx child-action.ts <dataDir> <baseUrl> <action> [arg]
 */
import { SandboxDirectory } from '../../sandbox/directory-sandbox/index.js';

const [dataDir, baseUrl, action, arg] = process.argv.slice(2);
if (!dataDir || !baseUrl || !action) throw new Error('usage: child-action.ts <dataDir> <baseUrl> <action> [arg]');
const dir = await SandboxDirectory.open({ dataDir, baseUrl });
switch (action) {
  case 'outage-on':
    await dir.setOutage(true);
    break;
  case 'outage-off':
    await dir.setOutage(false);
    break;
  case 'revoke-software':
    await dir.revokeSoftware(arg ?? '');
    break;
  case 'revoke-cert':
    await dir.revokeTransportCertificate(arg ?? '');
    break;
  case 'create-tpp': {
    const tpp = await dir.createTpp(arg ?? 'child-tpp');
    process.stdout.write(JSON.stringify({ orgId: tpp.orgId, softwareId: tpp.softwareId, signingKid: tpp.signingKid }));
    break;
  }
  default:
    throw new Error(`unknown action ${action}`);
}
