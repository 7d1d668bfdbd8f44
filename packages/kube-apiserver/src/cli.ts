// npm run kube-apiserver -- [--port N] [--host H] [--kubeconfig FILE] [--rollout ready|stuck|progressDeadlineExceeded|unavailable]
// Prints the URL and the kubeconfig path, then serves until SIGINT/SIGTERM.

import { copyFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type RolloutBehaviour, startKubeApiServer } from './index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    kubeconfig: { type: 'string' },
    rollout: { type: 'string', default: 'ready' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  process.stdout.write(
    'usage: npm run kube-apiserver -- [--port N] [--host H] [--kubeconfig FILE] [--rollout ready|stuck|progressDeadlineExceeded|unavailable]\n',
  );
} else {
  const mode = values.rollout as RolloutBehaviour['mode'];
  if (!['ready', 'stuck', 'progressDeadlineExceeded', 'unavailable', 'manual'].includes(mode)) {
    process.stderr.write(`error: unknown --rollout ${mode}\n`);
    process.exitCode = 2;
  } else {
    const server = await startKubeApiServer({
      port: Number(values.port),
      host: values.host,
      rollout: { mode } as RolloutBehaviour,
    });
    let kubeconfigPath = server.kubeconfigPath;
    if (values.kubeconfig) {
      kubeconfigPath = resolve(values.kubeconfig);
      copyFileSync(server.kubeconfigPath, kubeconfigPath);
    }
    process.stdout.write(`${server.url}\n`);
    process.stderr.write(`kube-apiserver (test) listening on ${server.url}\nkubeconfig: ${kubeconfigPath}\n`);
    const shutdown = () => {
      void server.stop().then(() => {
        process.exitCode = 0;
      });
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  }
}
