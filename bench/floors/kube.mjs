// The least a Node program needs to talk to the Kubernetes API: the kubeconfig's current context,
// one keep-alive HTTPS agent, discovery of the kinds it meets, and the manifests of a directory
// parsed with js-yaml. The floors of the benchmarks are built on it; gitops is measured against them.
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import yaml from 'js-yaml';

/** Server, CA and credentials of $KUBECONFIG's current context (token or client certificate). */
export function connect(file = process.env.KUBECONFIG) {
  if (!file) throw new Error('KUBECONFIG is not set');
  const config = yaml.load(readFileSync(file, 'utf8'));
  const context = config.contexts.find((entry) => entry.name === config['current-context']).context;
  const cluster = config.clusters.find((entry) => entry.name === context.cluster).cluster;
  const user = config.users.find((entry) => entry.name === context.user)?.user ?? {};
  const data = (inline, path) =>
    inline ? Buffer.from(inline, 'base64') : path ? readFileSync(path) : undefined;
  const agent = new Agent({
    keepAlive: true,
    maxSockets: 16,
    ca: data(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: data(user['client-certificate-data'], user['client-certificate']),
    key: data(user['client-key-data'], user['client-key']),
  });
  const base = new URL(cluster.server);
  const headers = user.token ? { Authorization: `Bearer ${user.token}` } : {};
  return {
    /** One request; resolves to { status, body } with the body parsed when it is JSON. */
    send(method, path, body, contentType = 'application/json') {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      return new Promise((resolve, reject) => {
        const req = request(
          new URL(path, base),
          {
            method,
            agent,
            headers: {
              ...headers,
              Accept: 'application/json',
              ...(payload === undefined
                ? {}
                : { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) }),
            },
          },
          (res) => {
            const chunks = [];
            res.on('data', (chunk) => chunks.push(chunk));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              resolve({ status: res.statusCode, body: text.startsWith('{') ? JSON.parse(text) : text });
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    },
    close: () => agent.destroy(),
  };
}

/** Where each kind lives: kind → { path prefix, resource, namespaced }, one discovery GET per group version. */
export async function discover(api, objects) {
  const versions = [...new Set(objects.map((object) => object.apiVersion))];
  const found = new Map();
  await Promise.all(
    versions.map(async (apiVersion) => {
      const prefix = apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`;
      const { status, body } = await api.send('GET', prefix);
      if (status !== 200) throw new Error(`discovery of ${apiVersion}: ${status}`);
      for (const resource of body.resources) {
        if (!resource.name.includes('/'))
          found.set(`${apiVersion}/${resource.kind}`, {
            prefix,
            resource: resource.name,
            namespaced: resource.namespaced,
          });
      }
    }),
  );
  return (object) => {
    const where = found.get(`${object.apiVersion}/${object.kind}`);
    if (!where) throw new Error(`the cluster serves no ${object.kind} in ${object.apiVersion}`);
    return where;
  };
}

/** The collection URL of an object's kind (in its namespace when namespaced). */
export function collection(where, namespace) {
  return where.namespaced
    ? `${where.prefix}/namespaces/${namespace}/${where.resource}`
    : `${where.prefix}/${where.resource}`;
}

/** Every document of every .yaml/.yml file under `dir`, parsed with js-yaml. */
export function readManifests(dir) {
  const objects = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !/\.ya?ml$/.test(entry.name)) continue;
    const path = join(entry.parentPath ?? entry.path, entry.name);
    for (const document of yaml.loadAll(readFileSync(path, 'utf8'))) {
      if (document && typeof document === 'object') objects.push(document);
    }
  }
  return objects;
}
