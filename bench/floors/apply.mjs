// The floor of applying an environment: parse the manifests of a directory with js-yaml and send
// each object as a server-side-apply PATCH (conflicts forced), 16 requests at a time over
// keep-alive connections; Namespaces first, as an apply must. Each object carries a label and an
// annotation, as gitops stamps its own.
// Usage: node apply.mjs <manifest dir>  (KUBECONFIG: the API server)
import { collection, connect, discover, readManifests } from './kube.mjs';

const CONCURRENCY = 16;
const [dir] = process.argv.slice(2);
const api = connect();
const objects = readManifests(dir).map((object) => ({
  ...object,
  metadata: {
    ...object.metadata,
    labels: { ...object.metadata.labels, 'bench.gitops.dev/environment': 'floor' },
    annotations: { ...object.metadata.annotations, 'bench.gitops.dev/revision': '0'.repeat(40) },
  },
}));
const where = await discover(api, objects);

async function apply(object) {
  const url = `${collection(where(object), object.metadata.namespace)}/${object.metadata.name}?fieldManager=gitops-floor&force=true`;
  const { status, body } = await api.send('PATCH', url, object, 'application/apply-patch+yaml');
  if (status !== 200 && status !== 201)
    throw new Error(`apply ${object.kind} ${object.metadata.name}: ${status} ${body.message ?? ''}`);
}

async function applyAll(list) {
  const queue = [...list];
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await apply(next);
    }),
  );
}

await applyAll(objects.filter((object) => object.kind === 'Namespace'));
await applyAll(objects.filter((object) => object.kind !== 'Namespace'));
api.close();
process.stdout.write(`${JSON.stringify({ applied: objects.length })}\n`);
