import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseImageReference } from '../src/images/reference.js';
import { updateImages } from '../src/manifests/update.js';
import { type BenchRow, type Contender, measurePair } from './lib.js';

const FILES = 5000;
const SERVICES = 100;
const REGISTRY = 'registry.example.com:5000/shop';
/** The bumped image: one service of 100, so 1 % of the files (50 files, 50 documents) use it. */
const BUMPED = `${REGISTRY}/service-042`;

function service(index: number): string {
  return `service-${String(index).padStart(3, '0')}`;
}

/** Four documents per file: Deployment (app + sidecar), Service, ConfigMap, HorizontalPodAutoscaler. */
function manifest(file: number): string {
  const name = service(file % SERVICES);
  const instance = `${name}-${file}`;
  return `# ${instance}: generated for the image-bump benchmark
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${instance}
  labels: {app: ${instance}, team: shop}
spec:
  replicas: 2
  selector:
    matchLabels: {app: ${instance}}
  template:
    metadata:
      labels: {app: ${instance}}
    spec:
      containers:
        - name: app
          image: ${REGISTRY}/${name}:1.0.0 # set by gitops
          ports:
            - containerPort: 8080
          env:
            - name: LOG_LEVEL
              value: "info"
          resources:
            limits: {cpu: 500m, memory: 256Mi}
        - name: proxy
          image: envoyproxy/envoy:v1.30.1
---
apiVersion: v1
kind: Service
metadata:
  name: ${instance}
spec:
  selector: {app: ${instance}}
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ${instance}-config
data:
  LOG_FORMAT: json
  FEATURE_FLAGS: "a,b,c"
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: ${instance}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ${instance}}
  minReplicas: 2
  maxReplicas: 10
`;
}

export function generate(root: string): void {
  for (let file = 0; file < FILES; file++) {
    const dir = join(root, `team-${String(file % 50).padStart(2, '0')}`);
    if (file < 50) mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${service(file % SERVICES)}-${file}.yaml`), manifest(file));
  }
}

/**
 * One image bumped across an env tree of 5,000 YAML files (20,000 documents), in turn with
 * `grep -rl … | xargs sed -i` over the same tree (target: under 1 s and ≤ 3×).
 */
export async function run(): Promise<BenchRow[]> {
  const root = mkdtempSync(join(tmpdir(), 'gitops-bench-bump-'));
  try {
    generate(root);
    // Every run of either side sets a new tag: both really rewrite the 50 files each time.
    let counter = 0;
    let lastTag = '';
    const nextTag = () => {
      counter++;
      lastTag = `2.0.${counter}`;
      return lastTag;
    };
    const escaped = BUMPED.replace(/[.]/g, '\\.');
    const sed: Contender = {
      label: 'grep -rl | xargs sed -i',
      run: () => {
        execFileSync(
          'bash',
          [
            '-c',
            `grep -rlF -- "$1:" "$2" | xargs -r sed -i "s#\\(${escaped}\\):[A-Za-z0-9._-]*#\\1:$3#g"`,
            'sed',
            BUMPED,
            root,
            nextTag(),
          ],
          { stdio: 'ignore' },
        );
      },
    };
    const gitops: Contender = {
      label: 'updateImages (write)',
      run: async () => {
        const update = { name: 'service-042', reference: parseImageReference(`${BUMPED}:${nextTag()}`) };
        const result = await updateImages(root, [update], { helmValues: [], write: true });
        if (result.changes.length !== 50 || !result.changed) {
          throw new Error(
            `expected 50 changes, got ${result.changes.length}: ${JSON.stringify(result.refused)}`,
          );
        }
      },
      after: () => {
        // What both sides write: the tag of the run, in the 50 files, the comment kept.
        const sample = readFileSync(join(root, 'team-42', 'service-042-42.yaml'), 'utf8');
        if (!sample.includes(`${BUMPED}:${lastTag} # set by gitops`))
          throw new Error('the bump did not land');
      },
    };
    return [
      await measurePair('image bump, 5,000 files / 20,000 documents', gitops, sed, {
        runs: 10,
        warmup: 2,
        target: { text: '< 1 s and ≤ 3×', maxRatio: 3, maxMs: 1000 },
        notes: `the image is in 50 files (1 %); ${FILES} files are read and substring-filtered, only matching documents are parsed`,
      }),
    ];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const result of await run()) {
    console.log(JSON.stringify(result, null, 2));
  }
}
