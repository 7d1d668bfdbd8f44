#!/usr/bin/env bash
# Validates the CI files gitops ships and generates: the GitHub Action (action.yml) and workflows
# against GitHub's schemas (@action-validator/cli), and the example Jenkinsfiles with
# npm-groovy-lint (CodeNarc; needs Java). Errors fail; style warnings are reported only.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=node_modules/.bin
for file in action.yml .github/workflows/*.yml examples/github-actions/*.yml; do
  "$bin/action-validator" "$file"
  echo "lint-ci-files: $file is valid"
done
"$bin/npm-groovy-lint" --noserver --failon error --output txt examples/jenkins/Jenkinsfile examples/jenkins/Jenkinsfile.drift >/tmp/gitops-groovy-lint.$$ 2>&1 || {
  cat /tmp/gitops-groovy-lint.$$
  rm -f /tmp/gitops-groovy-lint.$$
  exit 1
}
grep -E "Error|Warning" /tmp/gitops-groovy-lint.$$ | tail -3 || true
rm -f /tmp/gitops-groovy-lint.$$
echo "lint-ci-files: examples/jenkins/Jenkinsfile and Jenkinsfile.drift have no errors"
