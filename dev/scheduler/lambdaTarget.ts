/**
 * The local Scheduler's `invoke` for `npm start`: a schedule whose target is a Lambda function
 * (`arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`) invokes that function by
 * name, asynchronously (InvocationType Event, as the Scheduler does), on serverless offline's
 * Lambda endpoint, with the target's Input as the event.
 *
 * Not lib/wake.ts's lambdaInvoker: that one sends the drain `{ queue, wake: true }` it builds
 * itself, where the Scheduler passes on whatever Input the schedule holds.
 */
import type { InvokeTarget } from './server.js';

const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:([A-Za-z0-9_-]+)(?::([A-Za-z0-9$_-]+))?$/;

export interface LambdaTargetOptions {
  /** serverless offline's Lambda endpoint, e.g. http://127.0.0.1:3002. */
  endpoint: string;
  region?: string;
  /** Give up an invoke this slow (an Event invoke is answered before the function runs). */
  timeoutMs?: number;
}

/** The function name and qualifier a Lambda ARN names; undefined for any other ARN. */
export function lambdaFunctionOf(arn: string): { functionName: string; qualifier: string | undefined } | undefined {
  const match = LAMBDA_ARN.exec(arn);
  return match ? { functionName: match[1]!, qualifier: match[2] } : undefined;
}

export function lambdaTargetInvoker(options: LambdaTargetOptions): InvokeTarget {
  let loaded: Promise<{ sdk: typeof import('@aws-sdk/client-lambda'); client: import('@aws-sdk/client-lambda').LambdaClient }> | undefined;
  const load = () =>
    (loaded ??= import('@aws-sdk/client-lambda').then((sdk) => ({
      sdk,
      client: new sdk.LambdaClient({
        endpoint: options.endpoint,
        region: options.region ?? 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 1,
      }),
    })));
  return async (targetArn, input) => {
    const target = lambdaFunctionOf(targetArn);
    if (target === undefined) throw new Error(`the local Scheduler invokes Lambda functions only, not ${targetArn}`);
    const { sdk, client } = await load();
    await client.send(
      new sdk.InvokeCommand({
        FunctionName: target.functionName,
        ...(target.qualifier === undefined ? {} : { Qualifier: target.qualifier }),
        InvocationType: 'Event',
        // A target without Input gets an empty event.
        Payload: new TextEncoder().encode(input ?? '{}'),
      }),
      { abortSignal: AbortSignal.timeout(options.timeoutMs ?? 5_000) },
    );
  };
}
