/**
 * Evaluates the IAM roles of a packaged template with an IAM policy simulator
 * (@cloud-copilot/iam-simulate: AWS's evaluation logic, and its action and ARN catalogue, which
 * refuses a request whose action or resource type does not exist), offline. The template's
 * intrinsic functions are resolved first, in a made-up account and region, to the ARNs
 * CloudFormation would give each resource.
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
    default:
      throw new Error(`no ARN known for ${resource.Type} (${id})`);
  }
}

/** Resolves Ref, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split and Fn::Sub to strings. */
export function resolveIntrinsics(template: Template, node: unknown): unknown {
  const resolve = (value: unknown): unknown => resolveIntrinsics(template, value);
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
        return (value as string).replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
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
  if ((type === 'AWS::Lambda::Function' || type === 'AWS::IAM::Role' || type === 'AWS::Scheduler::ScheduleGroup') && attribute === 'Arn') {
    return resourceArn(template, id);
  }
  // A log group's Arn attribute ends in ':*' (CloudFormation's documented form).
  if (type === 'AWS::Logs::LogGroup' && attribute === 'Arn') return `${resourceArn(template, id)}:*`;
  throw new Error(`no value known for Fn::GetAtt ${id}.${attribute}`);
}

/** A role's inline policies, resolved, as the simulator takes identity policies. */
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
