/**
 * Evaluates the IAM roles of a packaged template with an IAM policy simulator
 * (@cloud-copilot/iam-simulate: AWS's evaluation logic, and its action and ARN catalogue, which
 * refuses a request whose action or resource type does not exist), offline. The template's
 * conditions are evaluated and its intrinsic functions resolved first, in a made-up account and
 * region, to the ARNs CloudFormation would give each resource.
 */
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { Template } from './cloudFormationSchema.js';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
const PARTITION = 'aws';

export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

/** The ARN CloudFormation would give a resource made by the template, by its type. */
export function resourceArn(template: Template, id: string): string {
  const resource = template.Resources[id];
  if (resource === undefined) throw new Error(`no resource ${id}`);
  const properties = resource.Properties ?? {};
  switch (resource.Type) {
    case 'AWS::SecretsManager::Secret':
      return `arn:${PARTITION}:secretsmanager:${REGION}:${ACCOUNT}:secret:${id}-AbCdEf`;
    case 'AWS::RDS::DBCluster':
      return `arn:${PARTITION}:rds:${REGION}:${ACCOUNT}:cluster:${id.toLowerCase()}`;
    case 'AWS::Lambda::Function':
      return `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${properties.FunctionName as string}`;
    case 'AWS::Logs::LogGroup':
      return `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:${properties.LogGroupName as string}`;
    // CloudFormation names a role without RoleName <stack>-<logical id>-<suffix>.
    case 'AWS::IAM::Role':
      return `arn:${PARTITION}:iam::${ACCOUNT}:role/${(properties.RoleName as string | undefined) ?? `stack-${id}-AbCdEf`}`;
    case 'AWS::Scheduler::ScheduleGroup':
      return `arn:${PARTITION}:scheduler:${REGION}:${ACCOUNT}:schedule-group/${properties.Name as string}`;
    // CloudFormation names an alarm without AlarmName <stack>-<logical id>-<suffix>.
    case 'AWS::CloudWatch::Alarm':
      return `arn:${PARTITION}:cloudwatch:${REGION}:${ACCOUNT}:alarm:${(properties.AlarmName as string | undefined) ?? `stack-${id}-AbCdEf`}`;
    default:
      throw new Error(`no ARN known for ${resource.Type} (${id})`);
  }
}

/**
 * Whether a template's condition holds. The conditions serverless.yml makes compare literals only
 * (parameters are resolved when packaging), so each one has a value here; one that does not throws.
 */
export function conditionHolds(template: Template, name: string): boolean {
  const evaluate = (node: any): unknown => {
    if (typeof node !== 'object' || node === null) return node;
    if ('Condition' in node) return conditionHolds(template, node.Condition);
    if ('Fn::Equals' in node) return evaluate(node['Fn::Equals'][0]) === evaluate(node['Fn::Equals'][1]);
    if ('Fn::Not' in node) return !evaluate(node['Fn::Not'][0]);
    if ('Fn::And' in node) return (node['Fn::And'] as unknown[]).every((part) => evaluate(part) === true);
    if ('Fn::Or' in node) return (node['Fn::Or'] as unknown[]).some((part) => evaluate(part) === true);
    throw new Error(`condition ${name}: cannot evaluate ${JSON.stringify(node)}`);
  };
  if (!(name in (template.Conditions ?? {}))) throw new Error(`no condition ${name}`);
  const value = evaluate(template.Conditions![name]);
  if (typeof value !== 'boolean') throw new Error(`condition ${name} is not a boolean: ${JSON.stringify(value)}`);
  return value;
}

const isNoValue = (node: unknown) => typeof node === 'object' && node !== null && (node as { Ref?: unknown }).Ref === 'AWS::NoValue';

/**
 * `node` as CloudFormation would see it after its conditions: each Fn::If replaced by the branch its
 * condition picks, and an AWS::NoValue that results dropped from its list or object. Every other
 * intrinsic function is left as it is.
 */
export function applyConditions(template: Template, node: unknown): unknown {
  const apply = (value: unknown): unknown => applyConditions(template, value);
  if (Array.isArray(node)) return node.map(apply).filter((value) => !isNoValue(value));
  if (typeof node !== 'object' || node === null) return node;
  const entries = Object.entries(node);
  if (entries.length === 1 && entries[0]![0] === 'Fn::If') {
    const [condition, whenTrue, whenFalse] = entries[0]![1] as [string, unknown, unknown];
    return apply(conditionHolds(template, condition) ? whenTrue : whenFalse);
  }
  return Object.fromEntries(entries.map(([key, value]) => [key, apply(value)]).filter(([, value]) => !isNoValue(value)));
}

/**
 * Resolves `node` to strings after its conditions (applyConditions): Ref, Fn::GetAtt, Fn::Join,
 * Fn::Select, Fn::Split and Fn::Sub, whose `${!Name}` stays the literal `${Name}`.
 */
export function resolveIntrinsics(template: Template, node: unknown): unknown {
  return resolveUnconditional(template, applyConditions(template, node));
}

function resolveUnconditional(template: Template, node: unknown): unknown {
  const resolve = (value: unknown): unknown => resolveUnconditional(template, value);
  if (Array.isArray(node)) return node.map(resolve);
  if (typeof node !== 'object' || node === null) return node;
  const entries = Object.entries(node);
  if (entries.length === 1) {
    const [[key, value]] = entries as [[string, any]];
    switch (key) {
      case 'Ref':
        return refValue(template, value);
      case 'Fn::GetAtt':
        return getAttValue(template, value[0], value[1]);
      case 'Fn::Join':
        return (resolve(value[1]) as string[]).join(value[0]);
      case 'Fn::Select':
        return (resolve(value[1]) as string[])[Number(value[0])];
      case 'Fn::Split':
        return (resolve(value[1]) as string).split(value[0]);
      case 'Fn::Sub':
        return (value as string).replace(/\$\{(!?)([^}]+)\}/g, (_, literal: string, name: string) => {
          if (literal) return `\${${name}}`;
          const [id, attribute] = name.split('.');
          return String(attribute === undefined ? refValue(template, id!) : getAttValue(template, id!, attribute));
        });
    }
  }
  return Object.fromEntries(entries.map(([key, value]) => [key, resolve(value)]));
}

function refValue(template: Template, name: string): string {
  const pseudo: Record<string, string> = { 'AWS::Partition': PARTITION, 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT, 'AWS::URLSuffix': 'amazonaws.com' };
  if (name in pseudo) return pseudo[name]!;
  const resource = template.Resources[name];
  if (resource?.Type === 'AWS::SecretsManager::Secret') return resourceArn(template, name);
  if (resource?.Type === 'AWS::RDS::DBCluster') return name.toLowerCase();
  if (resource?.Type === 'AWS::Scheduler::ScheduleGroup') return resource.Properties?.Name as string;
  throw new Error(`no value known for Ref ${name}`);
}

function getAttValue(template: Template, id: string, attribute: string): string {
  const type = template.Resources[id]?.Type;
  if (type === 'AWS::RDS::DBCluster' && attribute === 'DBClusterArn') return resourceArn(template, id);
  const arnTypes = ['AWS::Lambda::Function', 'AWS::IAM::Role', 'AWS::Scheduler::ScheduleGroup', 'AWS::CloudWatch::Alarm'];
  if (type !== undefined && arnTypes.includes(type) && attribute === 'Arn') {
    return resourceArn(template, id);
  }
  // A log group's Arn attribute ends in ':*' (CloudFormation's documented form).
  if (type === 'AWS::Logs::LogGroup' && attribute === 'Arn') return `${resourceArn(template, id)}:*`;
  throw new Error(`no value known for Fn::GetAtt ${id}.${attribute}`);
}

/** A role's inline policies, after the template's conditions and resolved, as the simulator takes identity policies. */
export function rolePolicies(template: Template, roleId: string): { name: string; policy: any }[] {
  const role = template.Resources[roleId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not an IAM role`);
  const inline = (role.Properties?.Policies ?? []) as { PolicyName: string; PolicyDocument: unknown }[];
  return inline.map((policy) => ({ name: policy.PolicyName, policy: resolveIntrinsics(template, policy.PolicyDocument) }));
}

/**
 * What AWS would decide for the role's session calling `action` on `resource`. Throws when the
 * simulator refuses the request itself (an action that does not exist, an ARN not of a resource
 * type the action takes, a malformed policy), so a typo cannot pass as a denial. `context` holds the
 * request's condition keys (iam:PassedToService for iam:PassRole).
 */
export async function decide(
  policies: { name: string; policy: any }[],
  action: string,
  resource: string,
  context: Record<string, string> = {},
): Promise<Decision> {
  const simulation: Simulation = {
    request: {
      principal: `arn:${PARTITION}:sts::${ACCOUNT}:assumed-role/function-role/session`,
      action,
      resource: { resource, accountId: ACCOUNT },
      contextVariables: context,
    },
    identityPolicies: policies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
  const result = await runSimulation(simulation, {});
  if (result.resultType === 'error') throw new Error(`the simulator refused ${action} on ${resource}: ${JSON.stringify(result.errors)}`);
  return result.overallResult;
}
