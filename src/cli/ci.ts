/** True when the environment says we run inside a CI job (the `CI` convention plus common providers). */
export function detectCI(env: Record<string, string | undefined>): boolean {
  const ci = env.CI;
  if (ci !== undefined) return ci !== '' && ci !== 'false' && ci !== '0';
  return Boolean(
    env.GITHUB_ACTIONS || env.JENKINS_URL || env.BUILD_ID || env.GITLAB_CI || env.BUILDKITE || env.TF_BUILD,
  );
}

export function isGitHubActions(env: Record<string, string | undefined>): boolean {
  return env.GITHUB_ACTIONS === 'true';
}
