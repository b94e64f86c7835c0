/**
 * The template checks catch what they claim to: each kind of mistake on a small template of the
 * shapes serverless.yml makes (test/serverless.test.ts runs them on the packaged templates).
 */
import { describe, expect, it } from 'vitest';
import { templateProblems, type Template } from './cloudFormationSchema.js';
import { applyConditions, conditionHolds, decide, resolveIntrinsics, resourceArn, rolePolicies } from './iamSimulation.js';

function valid(): Template {
  return {
    Conditions: {
      CreateDb: { 'Fn::Equals': ['', ''] },
      UseExisting: { 'Fn::Not': [{ Condition: 'CreateDb' }] },
    },
    Resources: {
      Secret: {
        Type: 'AWS::SecretsManager::Secret',
        Condition: 'CreateDb',
        Properties: { GenerateSecretString: { SecretStringTemplate: '{"username":"u"}', GenerateStringKey: 'password', PasswordLength: '32' } },
      },
      Logs: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: '/aws/lambda/fn', RetentionInDays: 14 } },
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
          },
          Policies: [
            {
              PolicyName: 'fn',
              PolicyDocument: {
                Version: '2012-10-17',
                Statement: [
                  { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: 'Secret' } },
                  { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': ['Logs', 'Arn'] } },
                  {
                    Effect: 'Allow',
                    Action: 'ssm:GetParameter',
                    Resource: {
                      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ssm:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':parameter/p']],
                    },
                  },
                ],
              },
            },
          ],
        },
      },
      Fn: {
        Type: 'AWS::Lambda::Function',
        DependsOn: ['Logs', 'Role'],
        Properties: {
          FunctionName: 'fn',
          Handler: 'handlers/fn.handler',
          Runtime: 'nodejs22.x',
          Code: { S3Bucket: 'b', S3Key: 'k' },
          Role: { 'Fn::GetAtt': ['Role', 'Arn'] },
          Timeout: 29,
          Architectures: ['arm64'],
          Environment: { Variables: { SECRET: { Ref: 'Secret' }, NAME: { 'Fn::Sub': '${AWS::StackName}-${Secret}' } } },
          ReservedConcurrentExecutions: { 'Fn::If': ['UseExisting', 2, { Ref: 'AWS::NoValue' }] },
        },
      },
    },
    Outputs: { SecretArn: { Value: { Ref: 'Secret' } } },
  };
}

/** A copy of the valid template with `change` applied. */
function broken(change: (template: Template) => void): Template {
  const template = structuredClone(valid());
  change(template);
  return template;
}

const fn = (template: Template) => template.Resources.Fn!.Properties!;

describe('templateProblems', () => {
  it('passes a valid template', async () => {
    expect(await templateProblems(valid())).toEqual([]);
  });

  it.each([
    [
      'an unknown resource type',
      (t: Template) => void (t.Resources.Fn!.Type = 'AWS::Lambda::Functon'),
      'Resources.Fn: unknown resource type AWS::Lambda::Functon',
    ],
    ['an unknown resource key', (t: Template) => void ((t.Resources.Fn as any).Propertes = {}), 'Resources.Fn: unknown resource key Propertes'],
    ['an unknown property', (t: Template) => void (fn(t).Handlr = 'x'), 'Resources.Fn.Properties: unknown property Handlr'],
    [
      'an unknown nested property',
      (t: Template) => void (fn(t).Environment = { Varibles: {} }),
      'Resources.Fn.Properties.Environment: unknown property Varibles',
    ],
    ['a missing required property', (t: Template) => void delete fn(t).Code, 'Resources.Fn.Properties: missing required property Code'],
    [
      'a missing required nested property',
      (t: Template) => void delete t.Resources.Role!.Properties!.Policies[0].PolicyName,
      'Resources.Role.Properties.Policies[0]: missing required property PolicyName',
    ],
    ['a string for a list', (t: Template) => void (fn(t).Architectures = 'arm64'), 'Resources.Fn.Properties.Architectures: expected a list'],
    ['text for an integer', (t: Template) => void (fn(t).Timeout = 'half a minute'), 'Resources.Fn.Properties.Timeout: expected an integer'],
    ['a value outside the allowed ones', (t: Template) => void (fn(t).PackageType = 'Jar'), 'Resources.Fn.Properties.PackageType: expected one of Image, Zip'],
    [
      'a wrong type in a branch of Fn::If',
      (t: Template) => void (fn(t).ReservedConcurrentExecutions = { 'Fn::If': ['UseExisting', 'two', { Ref: 'AWS::NoValue' }] }),
      'ReservedConcurrentExecutions[Fn::If true]: expected an integer',
    ],
    [
      'a Ref to nothing',
      (t: Template) => void (fn(t).Environment.Variables.SECRET = { Ref: 'Secrte' }),
      'Ref Secrte, which is neither a resource nor a parameter',
    ],
    [
      'a GetAtt of a missing attribute',
      (t: Template) => void (fn(t).Role = { 'Fn::GetAtt': ['Role', 'RoleArn'] }),
      'Fn::GetAtt Role.RoleArn: AWS::IAM::Role has no attribute RoleArn',
    ],
    [
      'a GetAtt of a missing resource',
      (t: Template) => void (fn(t).Role = { 'Fn::GetAtt': ['FnRole', 'Arn'] }),
      'Fn::GetAtt FnRole.Arn, and FnRole is not a resource',
    ],
    [
      'a Fn::Sub reference to nothing',
      (t: Template) => void (fn(t).Environment.Variables.NAME = { 'Fn::Sub': '${Nothing}' }),
      'Ref Nothing, which is neither a resource nor a parameter',
    ],
    [
      'a DependsOn on nothing',
      (t: Template) => void (t.Resources.Fn!.DependsOn = ['Logs', 'FnRole']),
      'Resources.Fn: DependsOn FnRole, which is not a resource',
    ],
    [
      'an undefined condition',
      (t: Template) => void (t.Resources.Secret!.Condition = 'CreateDatabase'),
      'Resources.Secret: condition CreateDatabase is not defined',
    ],
    [
      'a reference to a resource whose condition is false',
      (t: Template) => void (t.Conditions!.CreateDb = { 'Fn::Equals': ['arn:aws:rds:::cluster:given', ''] }),
      'Resources.Role: refers to Secret, which is not created here (condition CreateDb is false)',
    ],
  ])('reports %s', async (_, change, problem) => {
    const problems = await templateProblems(broken(change));
    expect(
      problems.some((line) => line.includes(problem)),
      `${problem}\nin ${problems.join('\n')}`,
    ).toBe(true);
  });
});

describe('the IAM simulation helpers', () => {
  it('resolves the intrinsic functions of a role to the ARNs CloudFormation would give', () => {
    const [policy] = rolePolicies(valid(), 'Role');
    expect(policy!.policy.Statement.map((s: { Resource: unknown }) => s.Resource)).toEqual([
      'arn:aws:secretsmanager:us-east-1:123456789012:secret:Secret-AbCdEf',
      'arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn:*',
      'arn:aws:ssm:us-east-1:123456789012:parameter/p',
    ]);
    expect(resolveIntrinsics(valid(), { 'Fn::Select': [6, { 'Fn::Split': [':', 'arn:aws:rds:eu-west-1:1:cluster:name'] }] })).toBe('name');
  });

  it('applies the conditions first: a statement under a false condition is gone, under a true one it is there', async () => {
    const xray = { Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' };
    const withXray = (condition: string) =>
      broken((t) => {
        t.Conditions!.Tracing = { 'Fn::Equals': [condition, 'tracing=true'] };
        t.Resources.Role!.Properties!.Policies[0].PolicyDocument.Statement.push({ 'Fn::If': ['Tracing', xray, { Ref: 'AWS::NoValue' }] });
      });
    const off = withXray('tracing=false');
    const on = withXray('tracing=true');
    expect(conditionHolds(off, 'Tracing')).toBe(false);
    expect(conditionHolds(on, 'Tracing')).toBe(true);
    expect(conditionHolds(on, 'UseExisting')).toBe(false);
    expect(rolePolicies(off, 'Role')[0]!.policy.Statement).toHaveLength(3);
    expect(rolePolicies(on, 'Role')[0]!.policy.Statement[3]).toEqual(xray);
    expect(await decide(rolePolicies(off, 'Role'), 'xray:PutTraceSegments', '*')).toBe('ImplicitlyDenied');
    expect(await decide(rolePolicies(on, 'Role'), 'xray:PutTraceSegments', '*')).toBe('Allowed');
    // A property whose Fn::If picks AWS::NoValue is dropped; other intrinsic functions stay as they are.
    expect(applyConditions(valid(), fn(valid()))).not.toHaveProperty('ReservedConcurrentExecutions');
    expect(applyConditions(valid(), fn(valid()))).toMatchObject({ Role: { 'Fn::GetAtt': ['Role', 'Arn'] } });
    expect(() => conditionHolds(valid(), 'Nothing')).toThrow(/no condition Nothing/);
  });

  it("substitutes an alarm's ARN and keeps Fn::Sub's ${!Literal} as the literal ${Literal}", () => {
    const template = broken((t) => {
      t.Resources.Alarm = { Type: 'AWS::CloudWatch::Alarm', Properties: {} };
    });
    expect(resourceArn(template, 'Alarm')).toBe('arn:aws:cloudwatch:us-east-1:123456789012:alarm:stack-Alarm-AbCdEf');
    expect(resolveIntrinsics(template, { 'Fn::Sub': "${Alarm.Arn} ${AWS::Region} ${!PROP('Dim.queue')}" })).toBe(
      "arn:aws:cloudwatch:us-east-1:123456789012:alarm:stack-Alarm-AbCdEf us-east-1 ${PROP('Dim.queue')}",
    );
  });

  it('decides as AWS does, and refuses a request that could not exist rather than deny it', async () => {
    const policies = rolePolicies(valid(), 'Role');
    expect(await decide(policies, 'ssm:GetParameter', 'arn:aws:ssm:us-east-1:123456789012:parameter/p')).toBe('Allowed');
    expect(await decide(policies, 'ssm:GetParameter', 'arn:aws:ssm:us-east-1:123456789012:parameter/p2')).toBe('ImplicitlyDenied');
    expect(await decide(policies, 'logs:PutLogEvents', 'arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn:log-stream:s')).toBe('Allowed');
    expect(await decide(policies, 'logs:PutLogEvents', 'arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn2:log-stream:s')).toBe('ImplicitlyDenied');
    await expect(decide(policies, 'ssm:GetParamater', 'arn:aws:ssm:us-east-1:123456789012:parameter/p')).rejects.toThrow(/refused/);
    await expect(decide(policies, 'ssm:GetParameter', 'arn:aws:rds:us-east-1:123456789012:cluster:c')).rejects.toThrow(/refused/);
  });
});
