/**
 * Packages serverless.yml the way a deploy would (osls + serverless-esbuild, no AWS credentials,
 * no network) and checks the CloudFormation it would deploy: AWS's resource schemas, one
 * least-privilege role per function (evaluated by an IAM policy simulator), the routes and their
 * IAM auth, the drain schedule, the alarms and the dashboard, active tracing as a parameter, and
 * bundles small enough for fast cold starts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import queueConfig from '../queue.config.js';
import { packageOffline, type CloudFormationResource, type CloudFormationTemplate, type PackagedService } from '../dev/packageOffline.js';
import { publishQueueMetrics, QUEUE_METRIC_UNITS, type QueueMetricName } from '../lib/observability.js';
import { queueDefaults } from '../lib/queues.js';
import { wakeSchedulerFromEnv } from '../lib/wakeScheduler.js';
import { templateProblems } from './support/cloudFormationSchema.js';
import { ACCOUNT, applyConditions, conditionHolds, decide, REGION, resolveIntrinsics, resourceArn, rolePolicies } from './support/iamSimulation.js';

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
  'GET /queues/{queue}/groups': 'handlers/groups.handler',
  'PUT /queues/{queue}/groups/{groupKey}/limits': 'handlers/groups.handler',
  'POST /queues/{queue}/groups/{groupKey}/pause': 'handlers/groups.handler',
  'POST /queues/{queue}/groups/{groupKey}/resume': 'handlers/groups.handler',
  'GET /openapi.json': 'handlers/openapi.handler',
};

const FUNCTIONS = ['enqueue', 'getMessage', 'cancelMessage', 'stats', 'deadLetters', 'queueControl', 'groups', 'openapi', 'drain', 'migrate'];
/** The functions that run SQL: all but openapi, which serves a document built from the code. */
const DB_FUNCTIONS = FUNCTIONS.filter((name) => name !== 'openapi');
const DB_RESOURCES = ['DbSecret', 'DbCluster', 'DbWriter', 'DbSecretAttachment'];
const APP_SECRET_RESOURCES = ['DbAppSecret', 'DbAppSecretAttachment'];
const MAX_ZIP_BYTES = 500 * 1024;
/** The functions that set timed wakes (lib/timedWakes.ts): the drain as a run ends, enqueue for a delayed message, dead letters for a FIFO queue's redrive. */
const WAKE_FUNCTIONS = ['enqueue', 'drain', 'deadLetters'];
/** The functions that invoke the drain at once: enqueue, queue control on a resume, dead letters on a redrive, groups when a group's limit is raised or it is resumed. */
const WAKE_NOW_FUNCTIONS = ['enqueue', 'queueControl', 'deadLetters', 'groups'];
const WAKE_ENV = ['WAKE_SCHEDULE_GROUP', 'WAKE_SCHEDULE_PREFIX', 'WAKE_TARGET_ARN', 'WAKE_ROLE_ARN', 'WAKE_SCHEDULER_ENDPOINT'];
/** The test stage's schedule group, and the only statement resource with a wildcard: a schedule's name in it. */
const WAKE_GROUP = 'aurora-queue-test';
const WAKE_SCHEDULES = `arn:\${AWS::Partition}:scheduler:\${AWS::Region}:\${AWS::AccountId}:schedule/${WAKE_GROUP}/*`;
const PASS_TO_SCHEDULER = { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } };
/**
 * What every function's role gains with tracing on, and the one statement whose resource is "*":
 * X-Ray's actions take no resource type (Service Authorization Reference).
 */
const XRAY_STATEMENT = { Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' };

const EXISTING_CLUSTER = 'arn:aws:rds:eu-west-1:111122223333:cluster:shared-queue';
const EXISTING_SECRET = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:shared-queue-AbCdEf';
const OWN_APP_SECRET = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:shared-queue-app-GhIjKl';

type Resource = CloudFormationResource;
type Template = CloudFormationTemplate;

/** Packages with the given serverless.yml parameters (dev/packageOffline: no credentials, no network). */
function packageService(params: Record<string, string>): Promise<PackagedService> {
  return packageOffline({ stage: 'test', params, timeoutMs: 240_000 });
}

function resourcesOfType(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

/** `node` as deployed: the template's Fn::If replaced by the branch its condition picks (test/support/iamSimulation.ts). */
const deployed = (template: Template, node: unknown): any => applyConditions(template, node);

/** Every IAM statement in the template, wherever it is attached, after the template's conditions. */
function iamStatements(template: Template): any[] {
  const statements: any[] = [];
  for (const [, role] of resourcesOfType(template, 'AWS::IAM::Role')) {
    for (const policy of role.Properties.Policies ?? []) statements.push(...deployed(template, policy.PolicyDocument.Statement));
  }
  for (const [, policy] of resourcesOfType(template, 'AWS::IAM::Policy')) {
    statements.push(...deployed(template, policy.Properties.PolicyDocument.Statement));
  }
  return statements;
}

/** The logical id of a function's own role. */
const roleOf = (name: string) => `${name[0]!.toUpperCase()}${name.slice(1)}Role`;

/** The statements of one function's role, after the template's conditions. */
function roleStatements(template: Template, name: string): any[] {
  const role = template.Resources[roleOf(name)];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`no role ${roleOf(name)}`);
  return (role.Properties.Policies ?? []).flatMap((policy: any) => deployed(template, policy.PolicyDocument.Statement));
}

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

function functionResource(template: Template, name: string): Resource {
  const logicalId = `${name[0]!.toUpperCase()}${name.slice(1)}LambdaFunction`;
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`no ${logicalId} in template`);
  return resource;
}

/**
 * Each function's role: the five Data API actions on the cluster and GetSecretValue on the app
 * secret where it runs SQL (migrate: on the master and app secrets), nothing through a wildcard.
 */
function expectLeastPrivilegeDataApi(template: Template, clusterArn: unknown, secrets: { master: unknown; app: unknown }) {
  for (const name of FUNCTIONS) {
    const statements = roleStatements(template, name);
    const dataApi = statements.filter((s) => asArray(s.Action).some((a: string) => a.startsWith('rds-data:')));
    const secretReads = statements.filter((s) => asArray(s.Action).some((a: string) => a.startsWith('secretsmanager:')));
    if (!DB_FUNCTIONS.includes(name)) {
      expect(dataApi, name).toEqual([]);
      expect(secretReads, name).toEqual([]);
      continue;
    }
    expect(dataApi, name).toHaveLength(1);
    expect(dataApi[0].Effect).toBe('Allow');
    expect([...asArray(dataApi[0].Action)].sort()).toEqual(DATA_API_ACTIONS);
    expect(dataApi[0].Resource, name).toEqual(clusterArn);

    expect(secretReads, name).toHaveLength(1);
    expect(asArray(secretReads[0].Action)).toEqual(['secretsmanager:GetSecretValue']);
    expect(asArray(secretReads[0].Resource), name).toEqual(name === 'migrate' ? [secrets.master, secrets.app] : [secrets.app]);
  }

  for (const statement of iamStatements(template)) {
    expect(statement.Effect).toBe('Allow');
    if (asArray(statement.Action).some((action: string) => action.startsWith('xray:'))) {
      expect(statement).toEqual(XRAY_STATEMENT);
      continue;
    }
    // The one condition: the Scheduler's role is passed to the Scheduler alone.
    if (asArray(statement.Action).includes('iam:PassRole')) {
      expect(statement).toEqual({
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: { 'Fn::GetAtt': ['WakeSchedulerRole', 'Arn'] },
        Condition: PASS_TO_SCHEDULER,
      });
    } else expect(statement.Condition).toBeUndefined();
    expect(statement.NotAction).toBeUndefined();
    expect(statement.NotResource).toBeUndefined();
    for (const action of asArray(statement.Action) as string[]) expect(action).not.toContain('*');
    for (const resource of asArray(statement.Resource)) {
      expect(resource).not.toBe('*');
      const text = typeof resource === 'string' ? resource : (resource as { 'Fn::Sub'?: unknown })['Fn::Sub'];
      if (typeof text === 'string' && text.includes('*')) {
        expect(text).toBe(WAKE_SCHEDULES);
        expect([...asArray(statement.Action)].sort()).toEqual(['scheduler:CreateSchedule', 'scheduler:UpdateSchedule']);
      }
    }
  }
}

/**
 * A packaged template with what tracing may change taken out, and packaging's own noise: the
 * TracingActive condition's value, each function's TracingConfig, each bundle's upload key, and each
 * Lambda version's code hash and logical id (which hashes the function's properties). Two templates
 * packaged with the same parameters but tracing are equal after it, or tracing changed something else.
 */
function withoutTracing(template: Template): unknown {
  const copy = structuredClone(template) as Template & { Outputs?: unknown };
  delete copy.Conditions?.TracingActive;
  const versionIds = new Map<string, string>();
  for (const [id, resource] of Object.entries(copy.Resources)) {
    if (resource.Type === 'AWS::Lambda::Function') {
      delete resource.Properties.TracingConfig;
      delete resource.Properties.Code;
    }
    if (resource.Type === 'AWS::Lambda::Version') {
      delete resource.Properties.CodeSha256;
      const stableId = id.replace(/LambdaVersion\w+$/, 'LambdaVersion');
      versionIds.set(id, stableId);
      delete copy.Resources[id];
      copy.Resources[stableId] = resource;
    }
  }
  expect(versionIds.size).toBe(FUNCTIONS.length);
  return JSON.parse(JSON.stringify(copy, (key, value) => (key === 'Ref' && versionIds.has(value) ? versionIds.get(value) : value)));
}

/** A cycle of resources that depend on each other (Ref, Fn::GetAtt, Fn::Sub, DependsOn), which CloudFormation refuses; or none. */
function dependencyCycle(template: Template): string[] | undefined {
  const dependsOn = (node: unknown, found: Set<string>): Set<string> => {
    if (Array.isArray(node)) for (const item of node) dependsOn(item, found);
    else if (typeof node === 'object' && node !== null) {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'Ref' && typeof value === 'string') found.add(value);
        else if (key === 'Fn::GetAtt') found.add(String(asArray(value)[0]).split('.')[0]!);
        else if (key === 'Fn::Sub') {
          const text = Array.isArray(value) ? value[0] : value;
          for (const [, name] of String(text).matchAll(/\$\{([^}!.]+)[^}]*\}/g)) found.add(name!);
          if (Array.isArray(value)) dependsOn(value[1], found);
        } else dependsOn(value, found);
      }
    }
    return found;
  };
  const edges = new Map(
    Object.entries(template.Resources).map(([id, resource]) => {
      const found = dependsOn(resource.Properties, new Set(asArray((resource as { DependsOn?: string | string[] }).DependsOn ?? [])));
      return [id, [...found].filter((name) => name in template.Resources)];
    }),
  );
  const done = new Set<string>();
  const visit = (id: string, path: string[]): string[] | undefined => {
    if (path.includes(id)) return [...path.slice(path.indexOf(id)), id];
    if (done.has(id)) return undefined;
    for (const next of edges.get(id) ?? []) {
      const cycle = visit(next, [...path, id]);
      if (cycle) return cycle;
    }
    done.add(id);
    return undefined;
  };
  for (const id of edges.keys()) {
    const cycle = visit(id, []);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('serverless package', () => {
  let created: PackagedService;
  let existing: PackagedService;
  let ownAppSecret: PackagedService;
  /** As `created`, with tracing on. */
  let traced: PackagedService;

  beforeAll(async () => {
    // Sequential on purpose: each run bundles every function on a two-core machine.
    created = await packageService({});
    traced = await packageService({ tracing: 'true' });
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
      // A slash needs quoting in a SEARCH schema (the dashboard) and is allowed in a namespace.
      metricsNamespace: 'Team/Queues',
    });
    ownAppSecret = await packageService({ dbClusterArn: EXISTING_CLUSTER, dbSecretArn: EXISTING_SECRET, dbAppSecretArn: OWN_APP_SECRET });
  }, 960_000);

  afterAll(async () => {
    for (const packaged of [created, traced, existing, ownAppSecret]) if (packaged) await rm(packaged.dir, { recursive: true, force: true });
    // serverless-esbuild removes its own work folder; drop the parent too unless someone else uses it.
    await rmdir(join(projectDir, '.esbuild')).catch(() => undefined);
  });

  describe('with no cluster given (the stack creates one)', () => {
    it('creates an Aurora MySQL Serverless v2 cluster with the Data API, its secret and a writer', () => {
      const { template } = created;
      expect(conditionHolds(template, 'CreateDbCluster')).toBe(true);
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

    it('grants only the five Data API actions on that cluster and GetSecretValue on the secret each function signs in with', () => {
      expectLeastPrivilegeDataApi(
        created.template,
        { 'Fn::GetAtt': ['DbCluster', 'DBClusterArn'] },
        { master: { Ref: 'DbSecret' }, app: { Ref: 'DbAppSecret' } },
      );
    });

    it("generates the application user's secret, attached to the cluster", () => {
      const { template } = created;
      expect(conditionHolds(template, 'CreateDbAppSecret')).toBe(true);
      for (const id of APP_SECRET_RESOURCES) expect(template.Resources[id]?.Condition).toBe('CreateDbAppSecret');
      const generate = template.Resources.DbAppSecret!.Properties.GenerateSecretString;
      expect(JSON.parse(generate.SecretStringTemplate)).toEqual({ username: 'aurora_queue_app' });
      expect(generate).toMatchObject({ GenerateStringKey: 'password', PasswordLength: 32 });
      // lib/sql/appUser.ts writes the password as a string literal, which takes no backslash.
      expect(generate.ExcludeCharacters).toContain('\\');
      expect(generate.ExcludeCharacters).toContain("'");
      expect(template.Resources.DbAppSecretAttachment!.Properties).toEqual({
        SecretId: { Ref: 'DbAppSecret' },
        TargetId: { 'Fn::Select': [6, { 'Fn::Split': [':', { 'Fn::GetAtt': ['DbCluster', 'DBClusterArn'] }] }] },
        TargetType: 'AWS::RDS::DBCluster',
      });
    });

    it('points every function at the created cluster and the app secret, migrate at the master secret', () => {
      for (const name of FUNCTIONS) {
        const env = functionResource(created.template, name).Properties.Environment.Variables;
        expect(env.DB_CLUSTER_ARN).toEqual({ 'Fn::GetAtt': ['DbCluster', 'DBClusterArn'] });
        expect(env.DB_SECRET_ARN, name).toEqual(name === 'migrate' ? { Ref: 'DbSecret' } : { Ref: 'DbAppSecret' });
        if (name === 'migrate') expect(env.DB_APP_SECRET_ARN).toEqual({ Ref: 'DbAppSecret' });
        else expect(env, name).not.toHaveProperty('DB_APP_SECRET_ARN');
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

      for (const name of FUNCTIONS.filter((f) => f !== 'drain')) {
        expect(
          roleStatements(existing.template, name).filter((s) => asArray(s.Action).some((a: string) => a.startsWith('ssm:'))),
          name,
        ).toEqual([]);
      }
      const ssm = roleStatements(existing.template, 'drain').filter((s) => asArray(s.Action).some((a: string) => a.startsWith('ssm:')));
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
      new Proxy(
        {},
        {
          get: (_, name) => {
            read.add(String(name));
            return undefined;
          },
        },
      ),
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

  describe('wake on enqueue (and on a group let go)', () => {
    it('lets the enqueue, queue control, dead-letter and groups functions invoke the drain function by name, and nothing else', () => {
      expect(functionResource(existing.template, 'drain').Properties.FunctionName).toBe('aurora-queue-test-drain');
      const invokes = (name: string) => roleStatements(existing.template, name).filter((s) => asArray(s.Action).some((a: string) => a.startsWith('lambda:')));
      for (const name of FUNCTIONS) {
        const env = functionResource(existing.template, name).Properties.Environment.Variables;
        if (!WAKE_NOW_FUNCTIONS.includes(name)) {
          expect(env, name).not.toHaveProperty('DRAIN_FUNCTION_NAME');
          expect(invokes(name), name).toEqual([]);
          continue;
        }
        expect(env.DRAIN_FUNCTION_NAME, name).toBe('aurora-queue-test-drain');
        expect(invokes(name), name).toHaveLength(1);
        expect(asArray(invokes(name)[0].Action)).toEqual(['lambda:InvokeFunction']);
        expect(asArray(invokes(name)[0].Resource)).toEqual([{ 'Fn::GetAtt': ['DrainLambdaFunction', 'Arn'] }]);
      }
    });

    it('passes the linger setting to the drain', () => {
      expect(functionResource(existing.template, 'drain').Properties.Environment.Variables.DRAIN_LINGER_SECONDS).toBe('2');
    });
  });

  describe('timed wakes (EventBridge Scheduler)', () => {
    it("creates the stage's schedule group", () => {
      const groups = resourcesOfType(created.template, 'AWS::Scheduler::ScheduleGroup');
      expect(groups).toEqual([['WakeScheduleGroup', { Type: 'AWS::Scheduler::ScheduleGroup', Properties: { Name: WAKE_GROUP } }]]);
      expect(resourcesOfType(created.template, 'AWS::Scheduler::Schedule')).toEqual([]);
    });

    it('lets only the Scheduler assume its role, for a schedule of this account and group, and lets it invoke only the drain', () => {
      const role = created.template.Resources.WakeSchedulerRole!.Properties;
      expect(role.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: {
            StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': ['WakeScheduleGroup', 'Arn'] } },
          },
        },
      ]);
      expect(role.ManagedPolicyArns).toBeUndefined();
      const statements = role.Policies.flatMap((policy: any) => policy.PolicyDocument.Statement);
      expect(statements).toHaveLength(1);
      expect(statements[0]).toMatchObject({ Effect: 'Allow', Action: 'lambda:InvokeFunction' });
      expect(resolveIntrinsics(created.template, statements[0].Resource)).toBe(resourceArn(created.template, 'DrainLambdaFunction'));
    });

    it('names the group, the drain and the role in the drain and enqueue environments, and in no other', () => {
      for (const packaged of [created, existing]) {
        const { template } = packaged;
        for (const name of FUNCTIONS) {
          const env = functionResource(template, name).Properties.Environment.Variables;
          if (!WAKE_FUNCTIONS.includes(name)) {
            for (const key of WAKE_ENV) expect(env, `${name}: ${key}`).not.toHaveProperty(key);
            continue;
          }
          expect(env).toMatchObject({ WAKE_SCHEDULE_GROUP: WAKE_GROUP, WAKE_SCHEDULE_PREFIX: '', WAKE_SCHEDULER_ENDPOINT: '' });
          expect(env.WAKE_ROLE_ARN).toEqual({ 'Fn::GetAtt': ['WakeSchedulerRole', 'Arn'] });
          // Built from the function's name: a Fn::GetAtt of the drain in its own environment is a cycle.
          expect(JSON.stringify(env.WAKE_TARGET_ARN)).not.toContain('DrainLambdaFunction');
          const resolved = resolveIntrinsics(template, env) as NodeJS.ProcessEnv;
          expect(resolved.WAKE_TARGET_ARN).toBe(resourceArn(template, 'DrainLambdaFunction'));
          expect(resolved.WAKE_ROLE_ARN).toBe(resourceArn(template, 'WakeSchedulerRole'));
          // The names lib/wakeScheduler.ts reads: the deployed functions do set timed wakes.
          expect(wakeSchedulerFromEnv(resolved), name).toBeDefined();
        }
      }
    });

    it('leaves no dependency cycle between the drain, its role and the Scheduler role', () => {
      for (const packaged of [created, traced, existing, ownAppSecret]) expect(dependencyCycle(packaged.template)).toBeUndefined();
    });
  });

  describe('with an existing cluster given', () => {
    it("creates no cluster, only the application user's secret, attached to the given cluster by its identifier", () => {
      const { template } = existing;
      expect(conditionHolds(template, 'CreateDbCluster')).toBe(false);
      for (const id of DB_RESOURCES) expect(template.Resources[id]?.Condition).toBe('CreateDbCluster');
      const unconditional = Object.values(template.Resources)
        .filter((r) => r.Condition === undefined)
        .map((r) => r.Type);
      expect(unconditional.filter((type) => type.startsWith('AWS::RDS::') || type.startsWith('AWS::SecretsManager::'))).toEqual([]);

      expect(conditionHolds(template, 'CreateDbAppSecret')).toBe(true);
      expect(JSON.parse(template.Resources.DbAppSecret!.Properties.GenerateSecretString.SecretStringTemplate)).toEqual({ username: 'shared_queue_app' });
      const { TargetId } = template.Resources.DbAppSecretAttachment!.Properties;
      expect(TargetId).toEqual({ 'Fn::Select': [6, { 'Fn::Split': [':', EXISTING_CLUSTER] }] });
      expect(EXISTING_CLUSTER.split(':')[TargetId['Fn::Select'][0]]).toBe('shared-queue');
    });

    it('scopes IAM to the given cluster and secret ARNs', () => {
      expectLeastPrivilegeDataApi(existing.template, EXISTING_CLUSTER, { master: EXISTING_SECRET, app: { Ref: 'DbAppSecret' } });
    });

    it('points every function at the given cluster and database, and migrate at the given secret', () => {
      for (const name of FUNCTIONS) {
        const env = functionResource(existing.template, name).Properties.Environment.Variables;
        expect(env).toMatchObject({ DB_CLUSTER_ARN: EXISTING_CLUSTER, DB_NAME: 'shared_queue' });
        expect(env.DB_SECRET_ARN, name).toEqual(name === 'migrate' ? EXISTING_SECRET : { Ref: 'DbAppSecret' });
      }
    });

    it('with an application user secret given, creates none and every function but migrate signs in with it', () => {
      const { template } = ownAppSecret;
      expect(conditionHolds(template, 'CreateDbAppSecret')).toBe(false);
      for (const id of APP_SECRET_RESOURCES) expect(template.Resources[id]?.Condition).toBe('CreateDbAppSecret');
      expectLeastPrivilegeDataApi(template, EXISTING_CLUSTER, { master: EXISTING_SECRET, app: OWN_APP_SECRET });
      for (const name of FUNCTIONS) {
        const env = functionResource(template, name).Properties.Environment.Variables;
        expect(env.DB_SECRET_ARN, name).toBe(name === 'migrate' ? EXISTING_SECRET : OWN_APP_SECRET);
      }
      expect(functionResource(template, 'migrate').Properties.Environment.Variables.DB_APP_SECRET_ARN).toBe(OWN_APP_SECRET);
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
      expect(conditionHolds(existing.template, 'HasAlarmTopic')).toBe(true);
      expect(conditionHolds(created.template, 'HasAlarmTopic')).toBe(false);
    });
  });

  describe('one IAM role per function', () => {
    it('gives each function a role of its own, and makes no shared one', () => {
      for (const packaged of [created, traced, existing, ownAppSecret]) {
        const { template } = packaged;
        const roles = resourcesOfType(template, 'AWS::IAM::Role').map(([id]) => id);
        // Besides the functions' roles, only the one the Scheduler invokes the drain with (timed wakes).
        expect(roles.sort()).toEqual([...FUNCTIONS.map(roleOf), 'WakeSchedulerRole'].sort());
        expect(template.Resources.IamRoleLambdaExecution).toBeUndefined();
        expect(resourcesOfType(template, 'AWS::IAM::Policy')).toEqual([]);
        expect(resourcesOfType(template, 'AWS::IAM::ManagedPolicy')).toEqual([]);
        for (const name of FUNCTIONS) {
          expect(functionResource(template, name).Properties.Role).toEqual({ 'Fn::GetAtt': [roleOf(name), 'Arn'] });
          const role = template.Resources[roleOf(name)]!.Properties;
          expect(role.ManagedPolicyArns).toBeUndefined();
          expect(role.AssumeRolePolicyDocument.Statement).toEqual([
            { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ]);
        }
      }
    });

    it('lets each function write only to its own log group', () => {
      for (const name of FUNCTIONS) {
        const logs = roleStatements(created.template, name).filter((s) => asArray(s.Action).some((a: string) => a.startsWith('logs:')));
        expect(logs, name).toEqual([
          {
            Effect: 'Allow',
            Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            Resource: { 'Fn::GetAtt': [`${roleOf(name).replace(/Role$/, '')}LogGroup`, 'Arn'] },
          },
        ]);
      }
    });
  });

  describe('active tracing (param tracing)', () => {
    const xrayStatements = (template: Template, name: string) =>
      roleStatements(template, name).filter((s) => asArray(s.Action).some((a: string) => a.startsWith('xray:')));

    it('is off by default: no function traces, and no role may send anything to X-Ray', () => {
      for (const packaged of [created, existing, ownAppSecret]) {
        const { template } = packaged;
        expect(conditionHolds(template, 'TracingActive')).toBe(false);
        for (const name of FUNCTIONS) {
          expect(functionResource(template, name).Properties.TracingConfig, name).toBeUndefined();
          expect(xrayStatements(template, name), name).toEqual([]);
        }
        expect(iamStatements(template).filter((s) => JSON.stringify(s).includes('xray:'))).toEqual([]);
      }
    });

    it('with tracing=true, traces every function actively and lets each role send segments and telemetry, on "*" only', () => {
      const { template } = traced;
      expect(conditionHolds(template, 'TracingActive')).toBe(true);
      for (const name of FUNCTIONS) {
        expect(functionResource(template, name).Properties.TracingConfig, name).toEqual({ Mode: 'Active' });
        expect(xrayStatements(template, name), name).toEqual([XRAY_STATEMENT]);
      }
      // The rest of every role as without tracing, and the one "*" is X-Ray's.
      expectLeastPrivilegeDataApi(template, { 'Fn::GetAtt': ['DbCluster', 'DBClusterArn'] }, { master: { Ref: 'DbSecret' }, app: { Ref: 'DbAppSecret' } });
    });

    it('with tracing=true, changes nothing else in the template', () => {
      expect(withoutTracing(traced.template)).toEqual(withoutTracing(created.template));
    });

    it('has no API Gateway tracing to turn on: the API is an HTTP API, which X-Ray does not trace (REST APIs only)', () => {
      for (const packaged of [created, traced]) {
        expect(resourcesOfType(packaged.template, 'AWS::ApiGatewayV2::Api')).toHaveLength(1);
        expect(resourcesOfType(packaged.template, 'AWS::ApiGateway::RestApi')).toEqual([]);
        expect(JSON.stringify(packaged.template)).not.toContain('TracingEnabled');
      }
    });
  });

  describe("AWS's resource schemas (@aws-cdk/aws-service-spec)", () => {
    it.each([
      ['a created cluster', () => created],
      ['an existing cluster', () => existing],
      ['an existing cluster and app user secret', () => ownAppSecret],
      ['tracing on', () => traced],
    ])('the template for %s has only known types and properties, every required one, and references that resolve', async (_, packaged) => {
      expect(await templateProblems(packaged().template)).toEqual([]);
    });
  });

  describe('IAM simulation (@cloud-copilot/iam-simulate): each function is allowed what it calls and denied the rest', () => {
    const SMS_TOKEN = `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/aurora-queue/test/sms-provider-token`;
    const SIGNING_SECRET = `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/aurora-queue/test/webhook-signing-secret`;
    const OTHER_PARAMETER = `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/aurora-queue/test/other`;
    const OTHER_CLUSTER = `arn:aws:rds:${REGION}:${ACCOUNT}:cluster:another`;
    const schedule = (group: string) => `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${group}/orders`;
    const logStream = (template: Template, fn: string) =>
      `${resourceArn(template, `${roleOf(fn).replace(/Role$/, '')}LogGroup`)}:log-stream:2026/03/01/[$LATEST]0123456789abcdef`;

    type Target = (template: Template) => string;
    const targets: Record<string, Target> = {
      'the cluster': (t) => resourceArn(t, 'DbCluster'),
      'another cluster': () => OTHER_CLUSTER,
      'the app secret': (t) => resourceArn(t, 'DbAppSecret'),
      'the master secret': (t) => resourceArn(t, 'DbSecret'),
      'the drain': (t) => resourceArn(t, 'DrainLambdaFunction'),
      'the migrate function': (t) => resourceArn(t, 'MigrateLambdaFunction'),
      'the SMS provider token': () => SMS_TOKEN,
      'the webhook signing secret': () => SIGNING_SECRET,
      'another parameter': () => OTHER_PARAMETER,
      'its own log stream': () => '',
      "the drain's log stream": (t) => logStream(t, 'drain'),
      "the enqueue function's log stream": (t) => logStream(t, 'enqueue'),
      "a wake schedule in its stage's group": () => schedule(WAKE_GROUP),
      "a schedule in another stage's group": () => schedule('aurora-queue-prod'),
      'a schedule in the default group': () => schedule('default'),
      "the Scheduler's role": (t) => resourceArn(t, 'WakeSchedulerRole'),
      "the drain's role": (t) => resourceArn(t, 'DrainRole'),
      // X-Ray's actions take no resource type: a request names none, which the simulator takes as "*".
      'no resource ("*")': () => '*',
    };

    type Case = { fn: string; action: string; target: string; decision: 'allowed' | 'denied'; context?: Record<string, string> };
    const untraced: Case[] = [];
    const allow = (fn: string, action: string, target: string, context?: Record<string, string>) =>
      untraced.push({ fn, action, target, decision: 'allowed', ...(context ? { context } : {}) });
    const deny = (fn: string, action: string, target: string, context?: Record<string, string>) =>
      untraced.push({ fn, action, target, decision: 'denied', ...(context ? { context } : {}) });
    const toScheduler = { 'iam:PassedToService': 'scheduler.amazonaws.com' };
    for (const fn of FUNCTIONS) {
      const sql = DB_FUNCTIONS.includes(fn);
      for (const action of DATA_API_ACTIONS) (sql ? allow : deny)(fn, action, 'the cluster');
      deny(fn, 'rds-data:ExecuteStatement', 'another cluster');
      (sql ? allow : deny)(fn, 'secretsmanager:GetSecretValue', 'the app secret');
      (fn === 'migrate' ? allow : deny)(fn, 'secretsmanager:GetSecretValue', 'the master secret');
      (WAKE_NOW_FUNCTIONS.includes(fn) ? allow : deny)(fn, 'lambda:InvokeFunction', 'the drain');
      deny(fn, 'lambda:InvokeFunction', 'the migrate function');
      (fn === 'drain' ? allow : deny)(fn, 'ssm:GetParameter', 'the SMS provider token');
      (fn === 'drain' ? allow : deny)(fn, 'ssm:GetParameter', 'the webhook signing secret');
      deny(fn, 'ssm:GetParameter', 'another parameter');
      deny(fn, 'ssm:PutParameter', 'the SMS provider token');
      allow(fn, 'logs:CreateLogStream', 'its own log stream');
      allow(fn, 'logs:PutLogEvents', 'its own log stream');
      deny(fn, 'logs:PutLogEvents', fn === 'drain' ? "the enqueue function's log stream" : "the drain's log stream");
      // Timed wakes: create or replace a schedule of its own stage's group, nothing else.
      const wakes = WAKE_FUNCTIONS.includes(fn);
      (wakes ? allow : deny)(fn, 'scheduler:CreateSchedule', "a wake schedule in its stage's group");
      (wakes ? allow : deny)(fn, 'scheduler:UpdateSchedule', "a wake schedule in its stage's group");
      deny(fn, 'scheduler:CreateSchedule', "a schedule in another stage's group");
      deny(fn, 'scheduler:UpdateSchedule', 'a schedule in the default group');
      deny(fn, 'scheduler:DeleteSchedule', "a wake schedule in its stage's group");
      deny(fn, 'scheduler:DeleteSchedule', "a schedule in another stage's group");
      deny(fn, 'scheduler:GetSchedule', "a wake schedule in its stage's group");
      (wakes ? allow : deny)(fn, 'iam:PassRole', "the Scheduler's role", toScheduler);
      deny(fn, 'iam:PassRole', "the Scheduler's role", { 'iam:PassedToService': 'lambda.amazonaws.com' });
      deny(fn, 'iam:PassRole', "the drain's role", toScheduler);
    }
    // Each case with tracing off (created) and on (traced): on allows the two X-Ray actions to every
    // function, and decides nothing else differently.
    const xray = (decision: Case['decision']): Case[] =>
      FUNCTIONS.flatMap((fn) => XRAY_STATEMENT.Action.map((action) => ({ fn, action, target: 'no resource ("*")', decision })));
    const cases = [
      ...[...untraced, ...xray('denied')].map((c) => ({ ...c, tracing: 'off' as const })),
      ...[...untraced, ...xray('allowed')].map((c) => ({ ...c, tracing: 'on' as const })),
    ];

    it.each(cases)('$fn function, tracing $tracing: $action on $target $decision', async ({ fn, action, target, decision: expected, tracing, context }) => {
      const { template } = tracing === 'on' ? traced : created;
      const resource = target === 'its own log stream' ? logStream(template, fn) : targets[target]!(template);
      const decision = await decide(rolePolicies(template, roleOf(fn)), action, resource, context);
      expect(decision).toBe(expected === 'allowed' ? 'Allowed' : 'ImplicitlyDenied');
    });

    it.each([
      ['lambda:InvokeFunction', 'the drain', 'Allowed'],
      ['lambda:InvokeFunction', 'the enqueue function', 'ImplicitlyDenied'],
      ['lambda:InvokeFunction', 'the migrate function', 'ImplicitlyDenied'],
      ['scheduler:CreateSchedule', "a wake schedule in its stage's group", 'ImplicitlyDenied'],
      ['iam:PassRole', "the drain's role", 'ImplicitlyDenied'],
    ])("the Scheduler's role: %s on %s is %s", async (action, target, expected) => {
      const { template } = created;
      const resource = target === 'the enqueue function' ? resourceArn(template, 'EnqueueLambdaFunction') : targets[target]!(template);
      expect(await decide(rolePolicies(template, 'WakeSchedulerRole'), action, resource, action === 'iam:PassRole' ? toScheduler : {})).toBe(expected);
    });

    it('with an existing cluster and parameter names given: the given ARNs, the given parameter', async () => {
      const { template } = existing;
      const hookSecret = `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/team/prod/hook-secret`;
      expect(await decide(rolePolicies(template, 'StatsRole'), 'rds-data:ExecuteStatement', EXISTING_CLUSTER)).toBe('Allowed');
      expect(await decide(rolePolicies(template, 'StatsRole'), 'secretsmanager:GetSecretValue', EXISTING_SECRET)).toBe('ImplicitlyDenied');
      expect(await decide(rolePolicies(template, 'MigrateRole'), 'secretsmanager:GetSecretValue', EXISTING_SECRET)).toBe('Allowed');
      expect(await decide(rolePolicies(template, 'DrainRole'), 'ssm:GetParameter', hookSecret)).toBe('Allowed');
      expect(await decide(rolePolicies(template, 'DrainRole'), 'ssm:GetParameter', SIGNING_SECRET)).toBe('ImplicitlyDenied');
      expect(await decide(rolePolicies(template, 'EnqueueRole'), 'ssm:GetParameter', hookSecret)).toBe('ImplicitlyDenied');
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

    it('runs the drain on a safety-net EventBridge schedule, every 15 minutes by default, for up to 180 s', () => {
      const { template } = created;
      const rules = resourcesOfType(template, 'AWS::Events::Rule');
      expect(rules).toHaveLength(1);
      const [, rule] = rules[0]!;
      // Slower than the cluster's auto-pause delay (300 s), so an idle cluster sleeps between runs.
      expect(rule.Properties.ScheduleExpression).toBe('rate(15 minutes)');
      expect(15 * 60).toBeGreaterThan(created.template.Resources.DbCluster!.Properties.ServerlessV2ScalingConfiguration.SecondsUntilAutoPause);
      expect(rule.Properties.State).toBe('ENABLED');
      expect(rule.Properties.Targets[0].Arn).toEqual({ 'Fn::GetAtt': ['DrainLambdaFunction', 'Arn'] });

      const drain = functionResource(template, 'drain').Properties;
      expect(drain.Handler).toBe('handlers/drain.handler');
      // A woken run may wait up to two minutes for its message (the Scheduler's minute, set a minute
      // early), and keeps the minute of work a run had before.
      expect(drain.Timeout).toBe(180);
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

  describe('dashboard (CloudWatch)', () => {
    /** The queue metrics it graphs, one widget each, with the statistic each is drawn with. */
    const GRAPHED: [QueueMetricName, 'Maximum' | 'Sum'][] = [
      ['QueueDepth', 'Maximum'],
      ['OldestDueAgeSeconds', 'Maximum'],
      ['Succeeded', 'Sum'],
      ['Retried', 'Sum'],
      ['DeadLettered', 'Sum'],
    ];
    const ALARMS = ['DeadLetterAlarm', 'OldestDueAgeAlarm'];

    type Widget = { type: string; x: number; y: number; width: number; height: number; properties: Record<string, any> };

    /** The stack's one dashboard, its body as CloudFormation would substitute it (test/support/iamSimulation.ts). */
    function dashboardOf(template: Template) {
      const dashboards = resourcesOfType(template, 'AWS::CloudWatch::Dashboard');
      expect(dashboards).toHaveLength(1);
      const [, dashboard] = dashboards[0]!;
      const text = resolveIntrinsics(template, dashboard.Properties.DashboardBody);
      expect(typeof text).toBe('string');
      return { properties: dashboard.Properties, body: JSON.parse(text as string) as { periodOverride?: string; widgets: Widget[] } };
    }

    /** The graph widgets of queue metrics, by the one SEARCH expression each holds. */
    function searchWidgets(widgets: Widget[]) {
      return widgets
        .filter((w) => w.type === 'metric' && w.properties.metrics !== undefined)
        .map((widget) => {
          expect(widget.properties.metrics).toHaveLength(1);
          const [[query, ...rest]] = widget.properties.metrics;
          expect(rest).toEqual([]);
          return { widget, query };
        });
    }

    /**
     * What publishQueueMetrics writes (lib/observability.ts) with a function's environment: one EMF
     * record, whose namespace, dimension names and service the dashboard must search by.
     */
    function publishedRecord(env: Record<string, string>): { namespace: string; dimensions: string[]; service: string; metrics: string[] } {
      const writes: string[] = [];
      vi.stubEnv('POWERTOOLS_DEV', 'false');
      vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
      const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
        writes.push(String(chunk));
        return true;
      });
      try {
        const everyMetric = Object.fromEntries(Object.keys(QUEUE_METRIC_UNITS).map((name) => [name, 1]));
        publishQueueMetrics('orders', everyMetric, { namespace: env.POWERTOOLS_METRICS_NAMESPACE!, serviceName: env.POWERTOOLS_SERVICE_NAME! });
      } finally {
        stdout.mockRestore();
        vi.unstubAllEnvs();
      }
      const [record, ...rest] = writes
        .join('')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(rest).toEqual([]);
      const [metrics] = record._aws.CloudWatchMetrics;
      return {
        namespace: metrics.Namespace,
        dimensions: metrics.Dimensions[0],
        service: record.service,
        metrics: metrics.Metrics.map((m: { Name: string }) => m.Name),
      };
    }

    it("is the stage's own, with every widget in the region the stack deploys to, none hard-coded", () => {
      const { properties, body } = dashboardOf(created.template);
      expect(properties.DashboardName).toBe('aurora-queue-test');
      const text: string = properties.DashboardBody['Fn::Sub'];
      expect(text).not.toContain(REGION);
      for (const widget of body.widgets.filter((w) => w.type === 'metric')) expect(widget.properties.region).toBe(REGION);
      // Every graph keeps its own period, so "per minute" holds over any time range.
      expect(body.periodOverride).toBe('inherit');
    });

    it.each(GRAPHED)(
      'graphs %s (%s) for every queue of the stage: a SEARCH over the dimensions the code publishes, one line per queue',
      (metric, statistic) => {
        for (const packaged of [created, existing]) {
          const { template } = packaged;
          const published = publishedRecord(functionResource(template, 'drain').Properties.Environment.Variables);
          expect(published.metrics).toContain(metric);
          const found = searchWidgets(dashboardOf(template).body.widgets).filter(({ query }) => query.expression.includes(`"${metric}"`));
          expect(found).toHaveLength(1);
          const [{ widget, query }] = found as [{ widget: Widget; query: any }];
          const schema = `{"${published.namespace}",${[...published.dimensions].sort().join(',')}}`;
          expect(query.expression).toBe(`SEARCH('${schema} service="${published.service}" MetricName="${metric}"', '${statistic}')`);
          expect(query.label).toBe("${PROP('Dim.queue')}");
          expect(widget.properties.period).toBe(60);
        }
        // The namespace is the stage's parameter (existing sets another), quoted for its slash.
        expect(functionResource(existing.template, 'drain').Properties.Environment.Variables.POWERTOOLS_METRICS_NAMESPACE).toBe('Team/Queues');
      },
    );

    it('graphs nothing else, and shows the two alarms: their state, and each one graphed, by their ARNs', () => {
      const { template } = created;
      const { widgets } = dashboardOf(template).body;
      expect(searchWidgets(widgets)).toHaveLength(GRAPHED.length);
      const arns = ALARMS.map((id) => resourceArn(template, id));
      expect(
        resourcesOfType(template, 'AWS::CloudWatch::Alarm')
          .map(([id]) => id)
          .sort(),
      ).toEqual(ALARMS);

      const status = widgets.filter((w) => w.type === 'alarm');
      expect(status).toHaveLength(1);
      expect([...status[0]!.properties.alarms].sort()).toEqual([...arns].sort());

      const graphs = widgets.filter((w) => w.type === 'metric' && w.properties.annotations?.alarms !== undefined);
      expect(graphs.map((w) => w.properties.annotations.alarms).sort()).toEqual(arns.map((arn) => [arn]).sort());
      expect(widgets).toHaveLength(GRAPHED.length + 1 + ALARMS.length);
    });

    it('lays its widgets out on the 24-column grid without overlap', () => {
      const { widgets } = dashboardOf(created.template).body;
      const cells = new Set<string>();
      for (const { x, y, width, height } of widgets) {
        expect(x + width).toBeLessThanOrEqual(24);
        for (let column = x; column < x + width; column++) {
          for (let row = y; row < y + height; row++) {
            expect(cells.has(`${column},${row}`), `${column},${row}`).toBe(false);
            cells.add(`${column},${row}`);
          }
        }
      }
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
      const expectedExtras =
        name === 'migrate'
          ? (await readdir(join(projectDir, 'schema', 'migrations'))).filter((f) => f.endsWith('.sql')).map((f) => `schema/migrations/${f}`)
          : [];
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
