/**
 * One drain run through the drain Lambda: the deployed function, or serverless offline's Lambda
 * invoke endpoint (LAMBDA_ENDPOINT=http://127.0.0.1:3002) for the local stack.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CliError } from './errors.js';

export interface InvokeDrainOptions {
  functionName: string;
  /** serverless offline's invoke endpoint; absent means AWS. */
  endpoint: string | undefined;
  region: string;
  /** The drain event: which queue, how many messages at most. */
  event: Record<string, unknown>;
  /** Whether the environment has AWS credentials; without them a local endpoint is signed with dummies. */
  hasCredentials: boolean;
}

/** The function's answer (its return value); throws CliError when the function failed or is unreachable. */
export async function invokeDrain(options: InvokeDrainOptions): Promise<unknown> {
  const local = options.endpoint !== undefined;
  const client = new LambdaClient({
    region: options.region,
    ...(local ? { endpoint: options.endpoint } : {}),
    ...(local && !options.hasCredentials ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    // A drain run is not idempotent to repeat blindly; a failed invoke is reported, not re-sent.
    maxAttempts: 1,
  });
  const where = local ? `at ${options.endpoint}` : `in ${options.region}`;
  try {
    const response = await client.send(
      new InvokeCommand({
        FunctionName: options.functionName,
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(JSON.stringify(options.event)),
      }),
    );
    const text = response.Payload === undefined ? '' : new TextDecoder().decode(response.Payload);
    const answer = parseJson(text);
    if (response.FunctionError !== undefined) {
      const message = typeof answer === 'object' && answer !== null && 'errorMessage' in answer ? String(answer.errorMessage) : text;
      throw new CliError(`drain function ${options.functionName} failed (${response.FunctionError}): ${message}`);
    }
    return answer;
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(describeInvokeError(error, options.functionName, where, local), { cause: error });
  } finally {
    client.destroy();
  }
}

function describeInvokeError(error: unknown, functionName: string, where: string, local: boolean): string {
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string } | undefined)?.code ?? (error as { cause?: { code?: string } } | undefined)?.cause?.code;
  if (name === 'ResourceNotFoundException' || /not ?found/i.test(message)) {
    return `no function ${functionName} ${where} (set DRAIN_FUNCTION_NAME or --function, or --stage for aurora-queue-<stage>-drain)`;
  }
  if (local && (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message))) {
    return `cannot reach serverless offline's Lambda endpoint ${where.slice(3)}: is \`npm start\` running? (or drain with --in-process)`;
  }
  return `invoking ${functionName} ${where} failed: ${name ? `${name}: ` : ''}${message}`;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
