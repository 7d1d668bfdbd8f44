// The in-process floor of `gitops diff`: the least work a diff of an environment can do. Parse the
// manifests of a directory, read the live objects (one LIST per kind and namespace, a GET for a
// cluster-scoped object), and compare every field git declares with the live value, naively.
// Usage: node diff.mjs <manifest dir> <namespace of objects that name none>  (KUBECONFIG: the API server)
import { collection, connect, discover, readManifests } from './kube.mjs';

function differences(desired, live, path = '') {
  if (desired === null || typeof desired !== 'object') return desired === live ? [] : [path || '/'];
  if (live === null || typeof live !== 'object') return [path || '/'];
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) return [path];
    return desired.flatMap((item, index) => differences(item, live[index], `${path}/${index}`));
  }
  return Object.entries(desired).flatMap(([key, value]) => differences(value, live[key], `${path}/${key}`));
}

const [dir, defaultNamespace] = process.argv.slice(2);
const api = connect();
const objects = readManifests(dir);
const where = await discover(api, objects);
const groups = new Map();
for (const object of objects) {
  const place = where(object);
  const url = place.namespaced
    ? collection(place, object.metadata.namespace ?? defaultNamespace)
    : `${collection(place)}/${object.metadata.name}`;
  if (!groups.has(url)) groups.set(url, []);
  groups.get(url).push(object);
}
const live = new Map();
await Promise.all(
  [...groups.keys()].map(async (url) => {
    const { status, body } = await api.send('GET', url);
    if (status === 404) return;
    if (status !== 200) throw new Error(`GET ${url}: ${status}`);
    for (const item of body.items ?? [body]) live.set(`${url}|${item.metadata.name}`, item);
  }),
);
let missing = 0;
let modified = 0;
for (const [url, desired] of groups) {
  for (const object of desired) {
    const current = live.get(`${url}|${object.metadata.name}`);
    if (!current) missing++;
    else if (differences(object, current).length > 0) modified++;
  }
}
api.close();
process.stdout.write(`${JSON.stringify({ objects: objects.length, missing, modified })}\n`);
