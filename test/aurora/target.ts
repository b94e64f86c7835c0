/**
 * The cluster `npm run test:aurora` runs against: the CLI's variables, always through AWS's
 * endpoint (a DATA_API_ENDPOINT for the local server is ignored here: `npm test` covers that).
 */
const REQUIRED = ['DB_CLUSTER_ARN', 'DB_SECRET_ARN', 'DB_NAME'] as const;

/** Why the run is skipped, or undefined when a cluster is configured. */
export function auroraSkipReason(env: NodeJS.ProcessEnv): string | undefined {
  const missing = REQUIRED.filter((name) => (env[name] ?? '').trim() === '');
  if (missing.length === 0) return undefined;
  return `no cluster to test: set ${missing.join(', ')} (and AWS credentials, AWS_REGION) to run doctor --full and an end-to-end enqueue, drain and status against it`;
}

/**
 * The environment for the product and the CLI: the cluster's variables, no local endpoint, and
 * AWS_REGION from the cluster's ARN when it is not set (the Data API is called in the cluster's region).
 */
export function auroraEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { DATA_API_ENDPOINT: _local, ...rest } = env;
  const region = rest.AWS_REGION ?? rest.DB_CLUSTER_ARN?.split(':')[3];
  return { ...rest, ...(region ? { AWS_REGION: region } : {}) };
}
