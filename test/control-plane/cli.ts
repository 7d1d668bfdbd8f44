// npm run control-plane -- [--no-kwok] [--client-cert]
// Starts the test control plane by hand, prints its admin kubeconfig and serves until SIGINT or
// SIGTERM. --no-kwok leaves out kwok and the fake nodes (to try GITOPS_TEST_KUBECONFIG, which
// brings its own); --client-cert writes a second kubeconfig that authenticates by certificate.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { findControlPlaneBinaries } from './binaries.js';
import { startControlPlane } from './control-plane.js';

const { values } = parseArgs({
  options: { 'no-kwok': { type: 'boolean' }, 'client-cert': { type: 'boolean' } },
});
const binaries = findControlPlaneBinaries();
if (typeof binaries === 'string') {
  process.stderr.write(`error: ${binaries}\n`);
  process.exit(2);
}
const plane = await startControlPlane({
  binaries,
  kwok: !values['no-kwok'],
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`${plane.version} at ${plane.url}\nKUBECONFIG=${plane.kubeconfigPath}\n`);
if (values['client-cert']) {
  const dir = plane.dir;
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    join(dir, 'admin.key'),
    '-out',
    join(dir, 'admin.csr'),
    '-subj',
    '/O=system:masters/CN=gitops-test-admin',
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    join(dir, 'admin.csr'),
    '-CA',
    join(dir, 'ca.crt'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-CAcreateserial',
    '-out',
    join(dir, 'admin.crt'),
    '-days',
    '7',
  ]);
  const b64 = (file: string) => readFileSync(join(dir, file)).toString('base64');
  const file = join(dir, 'client-cert.kubeconfig');
  writeFileSync(
    file,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: ${plane.url}\n    certificate-authority-data: ${b64('ca.crt')}\nusers:\n- name: test\n  user:\n    client-certificate-data: ${b64('admin.crt')}\n    client-key-data: ${b64('admin.key')}\ncontexts:\n- name: test\n  context: {cluster: test, user: test, namespace: default}\ncurrent-context: test\n`,
  );
  process.stdout.write(`KUBECONFIG=${file} (client certificate)\n`);
}
const stop = () => {
  void plane.stop().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
