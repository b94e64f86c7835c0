import type { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';

/**
 * A secret a job type reads at run time, never at deploy time, so its value is in neither the
 * CloudFormation template nor the function's environment:
 *   - deployed: `<NAME>_PARAMETER` holds the name of an SSM SecureString (serverless.yml sets it),
 *     read with decryption through Powertools Parameters and cached for `maxAgeSeconds`, so a
 *     rotated value is picked up without a redeploy and a warm drain costs no SSM call per message;
 *   - local (`npm start`, tests): `<NAME>` holds the value itself.
 * Neither set: undefined, and the job type decides (the built-ins retry, so queued messages
 * survive a configuration slip).
 */
export interface Secret {
  readonly name: string;
  value(): Promise<string | undefined>;
}

export interface SecretOptions {
  env?: NodeJS.ProcessEnv;
  /** Default 300 s. */
  maxAgeSeconds?: number;
  /** Default: one provider per process (its cache is shared by every secret). */
  provider?: Pick<SSMProvider, 'get'>;
}

let sharedProvider: Promise<Pick<SSMProvider, 'get'>> | undefined;

// Loaded on first use: only the drain reads secrets, and the other functions' cold starts should
// not pay for initialising the SSM client (esbuild keeps a bundled dynamic import lazy).
function defaultProvider(): Promise<Pick<SSMProvider, 'get'>> {
  return (sharedProvider ??= import('@aws-lambda-powertools/parameters/ssm').then(({ SSMProvider }) => new SSMProvider()));
}

export function secret(name: string, options: SecretOptions = {}): Secret {
  const env = options.env ?? process.env;
  const maxAge = options.maxAgeSeconds ?? 300;
  return {
    name,
    async value() {
      const parameterName = env[`${name}_PARAMETER`];
      if (parameterName) {
        const provider = options.provider ?? (await defaultProvider());
        const value = await provider.get(parameterName, { decrypt: true, maxAge });
        return typeof value === 'string' && value !== '' ? value : undefined;
      }
      return env[name] || undefined;
    },
  };
}

/** A secret given as a plain value (tests, scripts) or as a Secret. */
export type SecretInput = string | Secret | undefined;

export function resolveSecret(input: SecretInput): Promise<string | undefined> {
  if (input === undefined || typeof input === 'string') return Promise.resolve(input || undefined);
  return input.value();
}
