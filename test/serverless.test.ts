/**
 * Packages serverless.yml the way a deploy would (osls + serverless-esbuild, no AWS credentials,
 * no network) and checks the CloudFormation it would deploy: least-privilege IAM, the routes and
 * their IAM auth, the drain schedule, the alarms, and bundles small enough for fast cold starts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import queueConfig from '../queue.config.js';
import { packageOffline, type CloudFormationResource, type CloudFormationTemplate, type PackagedService } from '../dev/packageOffline.js';
import { queueDefaults } from '../lib/queues.js';

const run = promisify(execFile);
const projectDir = fileURLToPath(new URL('..', import.meta.url));

const DATA_API_ACTIONS = [
  'rds-data:BatchExecuteStatement',
  'rds-data:BeginTransaction',
  'rds-data:CommitTransaction',
  'rds-data:ExecuteStatement',
  'rds-data:RollbackTransaction',
];

const ROUTES: Record<string, string> = {
  'POST /queues/{queue}/messages': 'handlers/enqueue.handler',
  'GET /messages/{id}': 'handlers/getMessage.handler',
  'DELETE /messages/{id}': 'handlers/cancelMessage.handler',
  'GET /queues/{queue}/stats': 'handlers/stats.handler',
  'GET /queues/{queue}/dead': 'handlers/deadLetters.handler',
  'POST /queues/{queue}/redrive': 'handlers/deadLetters.handler',
  'DELETE /queues/{queue}/dead': 'handlers/deadLetters.handler',
  'POST /queues/{queue}/pause': 'handlers/queueControl.handler',
  'POST /queues/{queue}/resume': 'handlers/queueControl.handler',
  'GET /openapi.json': 'handlers/openapi.handler',
};

const FUNCTIONS = ['enqueue', 'getMessage', 'cancelMessage', 'stats', 'deadLetters', 'queueControl', 'openapi', 'drain', 'migrate'];
const DB_RESOURCES = ['DbSecret', 'DbCluster', 'DbWriter', 'DbSecretAttachment'];
const MAX_ZIP_BYTES = 500 * 1024;

const EXISTING_CLUSTER = 'arn:aws:rds:eu-west-1:111122223333:cluster:shared-queue';
const EXISTING_SECRET = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:shared-queue-AbCdEf';

type Resource = CloudFormationResource;
type Template = CloudFormationTemplate;

/** Packages with the given serverless.yml parameters (dev/packageOffline: no credentials, no network). */
function packageService(params: Record<string, string>): Promise<PackagedService> {
  return packageOffline({ stage: 'test', params, timeoutMs: 240_000 });
}

function resourcesOfType(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

/** Every IAM statement in the template, wherever it is attached. */
function iamStatements(template: Template): any[] {
  const statements: any[] = [];
  for (const [, role] of resourcesOfType(template, 'AWS::IAM::Role')) {
    for (const policy of role.Properties.Policies ?? []) statements.push(...policy.PolicyDocument.Statement);
  }
  for (const [, policy] of resourcesOfType(template, 'AWS::IAM::Policy')) {
    statements.push(...policy.Properties.PolicyDocument.Statement);
  }
  return statements;
}

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Evaluates the literal-only conditions serverless.yml produces (Fn::Equals, Fn::Not). */
function evaluateCondition(template: Template, name: string): boolean {
  const evaluate = (node: any): any => {
    if (typeof node !== 'object' || node === null) return node;
    if ('Fn::Equals' in node) return evaluate(node['Fn::Equals'][0]) === evaluate(node['Fn::Equals'][1]);
    if ('Fn::Not' in node) return !evaluate(node['Fn::Not'][0]);
    if ('Condition' in node) return evaluateCondition(template, node.Condition);
    throw new Error(`unsupported condition ${JSON.stringify(node)}`);
  };
  return evaluate(template.Conditions?.[name]);
}

function functionResource(template: Template, name: string): Resource {
  const logicalId = `${name[0]!.toUpperCase()}${name.slice(1)}LambdaFunction`;
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`no ${logicalId} in template`);
  return resource;
}

function expectLeastPrivilegeDataApi(template: Template, clusterArn: unknown, secretArn: unknown) {
  const statements = iamStatements(template);
  const dataApi = statements.filter((s) => asArray(s.Action).some((a: string) => a.startsWith('rds-data:')));
  expect(dataApi).toHaveLength(1);
  expect(dataApi[0].Effect).toBe('Allow');
  expect([...asArray(dataApi[0].Action)].sort()).toEqual(DATA_API_ACTIONS);
  expect(dataApi[0].Resource).toEqual(clusterArn);

  const secrets = statements.filter((s) => asArray(s.Action).some((a: string) => a.startsWith('secretsmanager:')));
  expect(secrets).toHaveLength(1);
  expect(asArray(secrets[0].Action)).toEqual(['secretsmanager:GetSecretValue']);
  expect(secrets[0].Resource).toEqual(secretArn);

  for (const statement of [...dataApi, ...secrets]) {
    expect(statement.Condition).toBeUndefined();
    for (const action of asArray(statement.Action) as string[]) expect(action).not.toContain('*');
    for (const resource of asArray(statement.Resource)) {
      expect(resource).not.toBe('*');
      if (typeof resource === 'string') expect(resource).not.toContain('*');
    }
  }
  // Nothing else may reach the database or secrets through a wildcard action or NotAction.
  for (const statement of statements) {
    expect(statement.NotAction).toBeUndefined();
    for (const action of asArray(statement.Action) as string[]) expect(action).not.toMatch(/^\*$|^(rds-data|secretsmanager):\*/);
  }
}

describe('serverless package', () => {
  let created: PackagedService;
  let existing: PackagedService;

  beforeAll(async () => {
    // Sequential on purpose: each run bundles eight functions on a two-core machine.
    created = await packageService({});
    existing = await packageService({
      dbClusterArn: EXISTING_CLUSTER,
      dbSecretArn: EXISTING_SECRET,
      dbName: 'shared_queue',
      drainSchedule: 'rate(5 minutes)',
      drainReservedConcurrency: '2',
      oldestDueAgeAlarmSeconds: '900',
      alarmTopicArn: 'arn:aws:sns:eu-west-1:111122223333:queue-alarms',
      webhookAllowedHosts: '*.partner.test',
      smsProviderUrl: 'https://sms.partner.test/send',
      webhookSigningSecretParameter: '/team/prod/hook-secret',
      leaseSeconds: '45',
      maxAttempts: '9',
    });
  }, 480_000);

  afterAll(async () => {
    for (const packaged of [created, existing]) if (packaged) await rm(packaged.dir, { recursive: true, force: true });
    // serverless-esbuild removes its own work folder; drop the parent too unless someone else uses it.
    await rmdir(join(projectDir, '.esbuild')).catch(() => undefined);
  });

  describe('with no cluster given (the stack creates one)', () => {
    it('creates an Aurora MySQL Serverless v2 cluster with the Data API, its secret and a writer', () => {
      const { template } = created;
      expect(evaluateCondition(template, 'CreateDbCluster')).toBe(true);
      for (const id of DB_RESOURCES) expect(template.Resources[id]?.Condition).toBe('CreateDbCluster');

      const cluster = template.Resources.DbCluster!.Properties;
      expect(cluster.Engine).toBe('aurora-mysql');
      const [major, minor] = /mysql_aurora\.(\d+)\.(\d+)/.exec(cluster.EngineVersion)!.slice(1).map(Number) as [number, number];
      expect(major * 100 + minor).toBeGreaterThanOrEqual(308);
      expect(cluster.EnableHttpEndpoint).toBe(true);
      expect(cluster.DatabaseName).toBe('aurora_queue');
      expect(cluster.ServerlessV2ScalingConfiguration).toMatchObject({ MinCapacity: 0, SecondsUntilAutoPause: 300 });
      expect(JSON.stringify(cluster.MasterUserPassword)).toContain('{{resolve:secretsmanager:${DbSecret}');

      expect(template.Resources.DbWriter!.Properties).toMatchObject({ DBInstanceClass: 'db.serverless', DBClusterIdentifier: { Ref: 'DbCluster' } });
      expect(template.Resources.DbSecretAttachment!.Properties).toMatchObject({
        SecretId: { Ref: 'DbSecret' },
        TargetId: { Ref: 'DbCluster' },
        TargetType: 'AWS::RDS::DBCluster',
      });
    });

    it('grants only the five Data API actions on that cluster and GetSecretValue on its secret', () => {
      expectLeastPrivilegeDataApi(created.template, { 'Fn::GetAtt': ['DbCluster', 'DBClusterArn'] }, { Ref: 'DbSecret' });
    });

    it('points every function at the created cluster and secret', () => {
      for (const name of FUNCTIONS) {
        const env = functionResource(created.template, name).Properties.Environment.Variables;
        expect(env.DB_CLUSTER_ARN).toEqual({ 'Fn::GetAtt': ['DbCluster', 'DBClusterArn'] });
        expect(env.DB_SECRET_ARN).toEqual({ Ref: 'DbSecret' });
        expect(env.DB_NAME).toBe('aurora_queue');
        expect(env.DATA_API_ENDPOINT).toBe('');
        expect(env.POWERTOOLS_SERVICE_NAME).toBe('aurora-queue-test');
        expect(env.POWERTOOLS_METRICS_NAMESPACE).toBe('AuroraQueue');
      }
    });
  });

  describe('settings and secrets of the job types in queue.config.ts', () => {
    const settings = queueConfig.jobTypes.flatMap((type) => type.settings ?? []);
    const secrets = queueConfig.jobTypes.flatMap((type) => type.secrets ?? []);

    it('every configured type declares what it reads', () => {
      expect(settings).toEqual(['WEBHOOK_ALLOWED_HOSTS', 'WEBHOOK_ALLOW_PRIVATE_ADDRESSES', 'SMS_PROVIDER_URL']);
      expect(secrets).toEqual(['WEBHOOK_SIGNING_SECRET', 'SMS_PROVIDER_TOKEN']);
    });

    it('passes each setting to every function, from its stage parameter', () => {
      for (const name of FUNCTIONS) {
        const env = functionResource(existing.template, name).Properties.Environment.Variables;
        for (const setting of settings) expect(env, `${name}: ${setting}`).toHaveProperty(setting);
        expect(env).toMatchObject({ WEBHOOK_ALLOWED_HOSTS: '*.partner.test', SMS_PROVIDER_URL: 'https://sms.partner.test/send' });
      }
    });

    it('gives the drain each secret as an SSM parameter name, never a value, and IAM exactly those parameters', () => {
      const drainEnv = functionResource(existing.template, 'drain').Properties.Environment.Variables;
      expect(drainEnv).toMatchObject({
        WEBHOOK_SIGNING_SECRET_PARAMETER: '/team/prod/hook-secret',
        SMS_PROVIDER_TOKEN_PARAMETER: '/aurora-queue/test/sms-provider-token',
      });
      for (const name of FUNCTIONS) {
        const env = functionResource(existing.template, name).Properties.Environment.Variables;
        for (const secret of secrets) expect(env, `${name} must not carry ${secret} itself`).not.toHaveProperty(secret);
        if (name !== 'drain') for (const secret of secrets) expect(env).not.toHaveProperty(`${secret}_PARAMETER`);
      }

      const ssm = iamStatements(existing.template).filter((s) => asArray(s.Action).some((a: string) => a.startsWith('ssm:')));
      expect(ssm).toHaveLength(1);
      expect(asArray(ssm[0].Action)).toEqual(['ssm:GetParameter']);
      const parameterOf = (resource: any) => {
        const parts = resource['Fn::Join'][1];
        expect(parts.slice(0, 7)).toEqual(['arn:', { Ref: 'AWS::Partition' }, ':ssm:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':parameter']);
        return parts.slice(7).join('');
      };
      expect(asArray(ssm[0].Resource).map(parameterOf)).toEqual(secrets.map((secret) => drainEnv[`${secret}_PARAMETER`]));
    });
  });

  describe('drain-wide settings (lib/queues.ts)', () => {
    // The names queueDefaults reads, taken from the function itself, so a new one cannot be left out.
    const read = new Set<string>();
    queueDefaults(
      new Proxy({}, {
        get: (_, name) => {
          read.add(String(name));
          return undefined;
        },
      }),
    );

    it('passes every one to every function: the API enqueues and redrives with them too', () => {
      expect([...read]).toEqual(expect.arrayContaining(['LEASE_SECONDS', 'MAX_ATTEMPTS', 'DRAIN_BATCH_SIZE']));
      for (const name of FUNCTIONS) {
        const env = functionResource(existing.template, name).Properties.Environment.Variables;
        for (const setting of read) expect(env, `${name}: ${setting}`).toHaveProperty(setting);
        expect(env, name).toMatchObject({ LEASE_SECONDS: '45', MAX_ATTEMPTS: '9' });
      }
    });
  });

  describe('wake on enqueue', () => {
    it('lets the enqueue function invoke the drain function by name, and nothing else', () => {
      const env = functionResource(existing.template, 'enqueue').Properties.Environment.Variables;
      expect(env.DRAIN_FUNCTION_NAME).toBe('aurora-queue-test-drain');
      expect(functionResource(existing.template, 'drain').Properties.FunctionName).toBe('aurora-queue-test-drain');
      for (const name of FUNCTIONS.filter((f) => f !== 'enqueue')) {
        expect(functionResource(existing.template, name).Properties.Environment.Variables).not.toHaveProperty('DRAIN_FUNCTION_NAME');
      }
      const invokes = iamStatements(existing.template).filter((s) => asArray(s.Action).some((a: string) => a.startsWith('lambda:')));
      expect(invokes).toHaveLength(1);
      expect(asArray(invokes[0].Action)).toEqual(['lambda:InvokeFunction']);
      const [arn] = asArray(invokes[0].Resource) as any[];
      expect(arn['Fn::Join'][1]).toEqual(['arn:', { Ref: 'AWS::Partition' }, ':lambda:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':function:aurora-queue-test-drain']);
    });

    it('passes the linger setting to the drain', () => {
      expect(functionResource(existing.template, 'drain').Properties.Environment.Variables.DRAIN_LINGER_SECONDS).toBe('2');
    });
  });

  describe('with an existing cluster given', () => {
    it('creates no database resources', () => {
      const { template } = existing;
      expect(evaluateCondition(template, 'CreateDbCluster')).toBe(false);
      for (const id of DB_RESOURCES) expect(template.Resources[id]?.Condition).toBe('CreateDbCluster');
      const unconditional = Object.values(template.Resources).filter((r) => r.Condition === undefined).map((r) => r.Type);
      expect(unconditional.filter((type) => type.startsWith('AWS::RDS::') || type.startsWith('AWS::SecretsManager::'))).toEqual([]);
    });

    it('scopes IAM to the given cluster and secret ARNs', () => {
      expectLeastPrivilegeDataApi(existing.template, EXISTING_CLUSTER, EXISTING_SECRET);
    });

    it('points every function at the given cluster, secret and database', () => {
      for (const name of FUNCTIONS) {
        const env = functionResource(existing.template, name).Properties.Environment.Variables;
        expect(env).toMatchObject({ DB_CLUSTER_ARN: EXISTING_CLUSTER, DB_SECRET_ARN: EXISTING_SECRET, DB_NAME: 'shared_queue' });
      }
    });

    it('takes the drain schedule, reservation and alarm settings from parameters', () => {
      const [, rule] = resourcesOfType(existing.template, 'AWS::Events::Rule')[0]!;
      expect(rule.Properties.ScheduleExpression).toBe('rate(5 minutes)');
      expect(functionResource(existing.template, 'drain').Properties.ReservedConcurrentExecutions).toBe(2);
      const [, oldest] = resourcesOfType(existing.template, 'AWS::CloudWatch::Alarm').find(([, a]) =>
        JSON.stringify(a.Properties.Metrics).includes('OldestDueAgeSeconds'),
      )!;
      // CLI parameters arrive as strings; CloudFormation accepts "900" for a Double.
      expect(Number(oldest.Properties.Threshold)).toBe(900);
      expect(evaluateCondition(existing.template, 'HasAlarmTopic')).toBe(true);
      expect(evaluateCondition(created.template, 'HasAlarmTopic')).toBe(false);
    });
  });

  describe('functions and events', () => {
    it('runs every function on a current Node.js runtime on arm64 with 14-day logs', () => {
      const functions = resourcesOfType(created.template, 'AWS::Lambda::Function');
      expect(functions).toHaveLength(FUNCTIONS.length);
      for (const [, fn] of functions) {
        expect(['nodejs22.x', 'nodejs24.x']).toContain(fn.Properties.Runtime);
        expect(fn.Properties.Architectures).toEqual(['arm64']);
      }
      for (const [, group] of resourcesOfType(created.template, 'AWS::Logs::LogGroup')) {
        expect(group.Properties.RetentionInDays).toBe(14);
      }
    });

    it('routes each HTTP API path to its handler behind AWS_IAM authorization', () => {
      const { template } = created;
      const routes = resourcesOfType(template, 'AWS::ApiGatewayV2::Route');
      const handlerByRoute: Record<string, string> = {};
      for (const [, route] of routes) {
        expect(route.Properties.AuthorizationType).toBe('AWS_IAM');
        const integrationId = route.Properties.Target['Fn::Join'][1][1].Ref as string;
        const functionId = template.Resources[integrationId]!.Properties.IntegrationUri['Fn::GetAtt'][0] as string;
        handlerByRoute[route.Properties.RouteKey] = template.Resources[functionId]!.Properties.Handler;
      }
      expect(handlerByRoute).toEqual(ROUTES);
      expect(resourcesOfType(template, 'AWS::ApiGatewayV2::Authorizer')).toEqual([]);
    });

    it('runs the drain on an EventBridge schedule, one minute by default, with bounded overlap', () => {
      const { template } = created;
      const rules = resourcesOfType(template, 'AWS::Events::Rule');
      expect(rules).toHaveLength(1);
      const [, rule] = rules[0]!;
      expect(rule.Properties.ScheduleExpression).toBe('rate(1 minute)');
      expect(rule.Properties.State).toBe('ENABLED');
      expect(rule.Properties.Targets[0].Arn).toEqual({ 'Fn::GetAtt': ['DrainLambdaFunction', 'Arn'] });

      const drain = functionResource(template, 'drain').Properties;
      expect(drain.Handler).toBe('handlers/drain.handler');
      expect(drain.Timeout).toBeGreaterThanOrEqual(60);
      expect(drain.Timeout).toBeLessThanOrEqual(900);
      // No reservation by default: a fresh account's quota leaves none to reserve.
      expect(drain.ReservedConcurrentExecutions).toBeUndefined();
      expect(Object.keys(drain.Environment.Variables)).toEqual(
        expect.arrayContaining(['DRAIN_BATCH_SIZE', 'DRAIN_CONCURRENCY', 'DRAIN_RATE_PER_SECOND', 'LEASE_SECONDS', 'RETENTION_SECONDS']),
      );
      const [, invokeConfig] = resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig')[0]!;
      expect(invokeConfig.Properties).toMatchObject({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
    });

    it('gives migrate no event source', () => {
      const migrate = functionResource(created.template, 'migrate');
      const invokedBy = resourcesOfType(created.template, 'AWS::Lambda::Permission').filter(([, p]) =>
        JSON.stringify(p.Properties.FunctionName).includes('MigrateLambdaFunction'),
      );
      expect(migrate.Properties.Handler).toBe('handlers/migrate.handler');
      expect(invokedBy).toEqual([]);
    });
  });

  describe('alarms', () => {
    const alarmOn = (template: Template, metric: string) => {
      const found = resourcesOfType(template, 'AWS::CloudWatch::Alarm').filter(([, a]) =>
        JSON.stringify(a.Properties.Metrics ?? a.Properties.MetricName).includes(metric),
      );
      expect(found).toHaveLength(1);
      return found[0]![1].Properties;
    };

    it('alarms on any dead-lettered message across queues of this stage', () => {
      const alarm = alarmOn(created.template, 'DeadLettered');
      expect(alarm).toMatchObject({ ComparisonOperator: 'GreaterThanThreshold', Threshold: 0 });
      const [query] = alarm.Metrics;
      expect(query.ReturnData).toBe(true);
      expect(query.Expression).toMatch(/^SELECT SUM\(DeadLettered\) FROM SCHEMA\("AuroraQueue", queue, service\)/);
      expect(query.Expression).toContain("service = 'aurora-queue-test'");
    });

    it('alarms when the oldest due message is older than the threshold', () => {
      const alarm = alarmOn(created.template, 'OldestDueAgeSeconds');
      expect(alarm).toMatchObject({ ComparisonOperator: 'GreaterThanThreshold', Threshold: 300 });
      expect(alarm.Metrics[0].Expression).toMatch(/^SELECT MAX\(OldestDueAgeSeconds\) FROM SCHEMA\("AuroraQueue", queue, service\)/);
    });
  });

  describe('bundles', () => {
    it.each(FUNCTIONS)('%s is an ESM bundle of at most 500 KB zipped that loads in Node', async (name) => {
      const zip = join(created.dir, `${name}.zip`);
      expect((await stat(zip)).size).toBeLessThanOrEqual(MAX_ZIP_BYTES);

      const handlerFile = functionResource(created.template, name).Properties.Handler.replace(/\.handler$/, '.mjs');
      const { stdout: listing } = await run('unzip', ['-Z1', zip]);
      const files = listing.trim().split('\n');
      expect(files[0]).toBe(handlerFile);
      // Only migrate carries more: the migrations it applies, read from disk at run time.
      const expectedExtras = name === 'migrate' ? (await readdir(join(projectDir, 'schema', 'migrations'))).filter((f) => f.endsWith('.sql')).map((f) => `schema/migrations/${f}`) : [];
      expect(files.slice(1).sort()).toEqual(expectedExtras.sort());

      // Import the bundle in a fresh Node process, as the Lambda runtime would: catches missing
      // externals and CommonJS-in-ESM require() failures that packaging alone does not.
      const extracted = await mkdtemp(join(tmpdir(), `aurora-queue-${name}-`));
      try {
        await run('unzip', ['-q', zip, '-d', extracted]);
        const probe = 'const m = await import(process.argv[1]); if (typeof m.handler !== "function") process.exit(3);';
        await run(process.execPath, ['--input-type=module', '-e', probe, join(extracted, handlerFile)], {
          env: {
            PATH: process.env.PATH ?? '',
            DB_CLUSTER_ARN: EXISTING_CLUSTER,
            DB_SECRET_ARN: EXISTING_SECRET,
            DB_NAME: 'aurora_queue',
            DATA_API_ENDPOINT: 'http://127.0.0.1:9',
            AWS_REGION: 'us-east-1',
          },
          timeout: 30_000,
        });
      } finally {
        await rm(extracted, { recursive: true, force: true });
      }
    });
  });
});
