/**
 * Checks a CloudFormation template against AWS's resource schemas as the CDK publishes them
 * (@aws-cdk/aws-service-spec: every resource type, its properties, their types, which are
 * required, and each type's attributes), offline. Returns one line per problem:
 *   - a resource type CloudFormation does not know, or a resource key it does not take;
 *   - a property the type does not have (at any depth), a required one missing, a value of the
 *     wrong shape or outside its allowed values;
 *   - a Ref, Fn::GetAtt, Fn::Sub reference, DependsOn or Condition naming nothing, an attribute
 *     the type does not have, or a resource made under a condition that is false here.
 * Intrinsic functions stand for a value of any type (their own references are still checked);
 * numbers and booleans may be strings, as CloudFormation converts them.
 */
import { loadAwsServiceSpec } from '@aws-cdk/aws-service-spec';
import type { PropertyType, Resource, SpecDatabase, TypeDefinition } from '@aws-cdk/service-spec-types';

export interface Template {
  Conditions?: Record<string, unknown>;
  Parameters?: Record<string, unknown>;
  Resources: Record<string, { Type: string; Condition?: string; DependsOn?: string | string[]; Properties?: Record<string, any> }>;
  Outputs?: Record<string, { Value?: unknown; Condition?: string }>;
}

const RESOURCE_KEYS = new Set([
  'Type',
  'Properties',
  'DependsOn',
  'Condition',
  'DeletionPolicy',
  'UpdateReplacePolicy',
  'Metadata',
  'UpdatePolicy',
  'CreationPolicy',
]);
const PSEUDO_PARAMETERS = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);
const INTRINSICS = new Set([
  'Ref',
  'Condition',
  'Fn::GetAtt',
  'Fn::Join',
  'Fn::Sub',
  'Fn::If',
  'Fn::Select',
  'Fn::Split',
  'Fn::ImportValue',
  'Fn::Base64',
  'Fn::FindInMap',
  'Fn::GetAZs',
  'Fn::Cidr',
  'Fn::Equals',
  'Fn::Not',
  'Fn::And',
  'Fn::Or',
  'Fn::Length',
  'Fn::ToJsonString',
  'Fn::Transform',
]);

let specDb: Promise<SpecDatabase> | undefined;

/** The spec database, loaded once per process (about 0.4 s). */
export function awsServiceSpec(): Promise<SpecDatabase> {
  return (specDb ??= loadAwsServiceSpec());
}

export async function templateProblems(template: Template): Promise<string[]> {
  const db = await awsServiceSpec();
  return new TemplateCheck(db, template).run();
}

function isIntrinsic(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && INTRINSICS.has(keys[0]!);
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

class TemplateCheck {
  readonly #problems: string[] = [];
  readonly #specs = new Map<string, Resource>();

  constructor(
    private readonly db: SpecDatabase,
    private readonly template: Template,
  ) {}

  run(): string[] {
    for (const [id, resource] of Object.entries(this.template.Resources)) this.#resource(id, resource);
    for (const [name, condition] of Object.entries(this.template.Conditions ?? {})) this.#references(`Conditions.${name}`, condition, undefined);
    for (const [name, output] of Object.entries(this.template.Outputs ?? {})) {
      if (output.Value === undefined) this.#problems.push(`Outputs.${name}: no Value`);
      if (output.Condition !== undefined) this.#conditionExists(`Outputs.${name}`, output.Condition);
      this.#references(`Outputs.${name}`, output.Value, output.Condition);
    }
    return this.#problems;
  }

  #spec(type: string): Resource | undefined {
    if (!this.#specs.has(type)) {
      const found = this.db.lookup('resource', 'cloudFormationType', 'equals', type);
      if (found.length > 0) this.#specs.set(type, found[0]!);
    }
    return this.#specs.get(type);
  }

  #resource(id: string, resource: Template['Resources'][string]): void {
    const where = `Resources.${id}`;
    for (const key of Object.keys(resource)) if (!RESOURCE_KEYS.has(key)) this.#problems.push(`${where}: unknown resource key ${key}`);
    if (resource.Condition !== undefined) this.#conditionExists(where, resource.Condition);
    for (const dependency of [resource.DependsOn ?? []].flat()) {
      if (!(dependency in this.template.Resources)) this.#problems.push(`${where}: DependsOn ${dependency}, which is not a resource`);
      else this.#reachable(where, dependency, resource.Condition);
    }
    this.#references(where, resource.Properties, resource.Condition);

    const spec = this.#spec(resource.Type);
    if (spec === undefined) {
      this.#problems.push(`${where}: unknown resource type ${resource.Type}`);
      return;
    }
    this.#properties(`${where}.Properties`, resource.Properties ?? {}, spec.properties);
  }

  #properties(where: string, value: unknown, properties: Resource['properties']): void {
    if (isIntrinsic(value)) return;
    if (!isObject(value)) {
      this.#problems.push(`${where}: expected an object, got ${JSON.stringify(value)}`);
      return;
    }
    for (const [name, property] of Object.entries(properties)) {
      if (property.required && value[name] === undefined) this.#problems.push(`${where}: missing required property ${name}`);
    }
    for (const [name, child] of Object.entries(value)) {
      const property = properties[name];
      if (property === undefined) this.#problems.push(`${where}: unknown property ${name}`);
      else this.#value(`${where}.${name}`, child, property.type);
    }
  }

  /** Whether `value` has `type`; records the problem when it does not (unions record none of their own). */
  #value(where: string, value: unknown, type: PropertyType, record = true): boolean {
    if (isIntrinsic(value)) {
      // A branch of Fn::If is a value of this type too (AWS::NoValue drops the property).
      if ('Fn::If' in value && Array.isArray(value['Fn::If'])) {
        const [, whenTrue, whenFalse] = value['Fn::If'] as unknown[];
        return [whenTrue, whenFalse].every(
          (branch, i) => isNoValue(branch) || this.#value(`${where}[Fn::If ${i === 0 ? 'true' : 'false'}]`, branch, type, record),
        );
      }
      return true;
    }
    const fail = (expected: string) => {
      if (record) this.#problems.push(`${where}: expected ${expected}, got ${JSON.stringify(value)?.slice(0, 80)}`);
      return false;
    };
    switch (type.type) {
      case 'string':
      case 'date-time':
        if (typeof value !== 'string' && typeof value !== 'number') return fail('a string');
        if (type.type === 'string' && type.allowedValues && !type.allowedValues.includes(String(value))) return fail(`one of ${type.allowedValues.join(', ')}`);
        return true;
      case 'number':
      case 'integer':
        if (typeof value === 'number' || (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))) {
          return type.type === 'integer' && !Number.isInteger(Number(value)) ? fail('an integer') : true;
        }
        return fail(type.type === 'integer' ? 'an integer' : 'a number');
      case 'boolean':
        return typeof value === 'boolean' || value === 'true' || value === 'false' ? true : fail('a boolean');
      case 'json':
        return true;
      case 'null':
        return value === null ? true : fail('null');
      case 'tag':
        if (!isObject(value) || !('Key' in value) || !('Value' in value)) return fail('a tag { Key, Value }');
        return true;
      case 'array':
        if (!Array.isArray(value)) return fail('a list');
        return value.map((element, i) => this.#value(`${where}[${i}]`, element, type.element, record)).every(Boolean);
      case 'map':
        if (!isObject(value)) return fail('a map');
        return Object.entries(value)
          .map(([key, element]) => this.#value(`${where}.${key}`, element, type.element, record))
          .every(Boolean);
      case 'ref': {
        const definition = this.db.get('typeDefinition', type.reference);
        if (!record) return this.#matchesDefinition(value, definition);
        this.#properties(where, value, definition.properties);
        return true;
      }
      case 'union': {
        if (type.types.some((member) => this.#value(where, value, member, false))) return true;
        // None fits: report against the member of the value's own kind, for a useful message.
        const member = type.types.find((m) => (m.type === 'ref' && isObject(value)) || (m.type === 'array' && Array.isArray(value))) ?? type.types[0]!;
        return record ? this.#value(where, value, member, true) : false;
      }
      default:
        return fail(`a ${(type as { type: string }).type}`);
    }
  }

  #matchesDefinition(value: unknown, definition: TypeDefinition): boolean {
    if (isIntrinsic(value)) return true;
    if (!isObject(value)) return false;
    if (Object.entries(definition.properties).some(([name, p]) => p.required && value[name] === undefined)) return false;
    return Object.entries(value).every(
      ([name, child]) => definition.properties[name] !== undefined && this.#value('', child, definition.properties[name].type, false),
    );
  }

  /** Every Ref, Fn::GetAtt, Fn::Sub reference and condition name under `node`. */
  #references(where: string, node: unknown, condition: string | undefined): void {
    if (Array.isArray(node)) {
      node.forEach((child) => this.#references(where, child, condition));
      return;
    }
    if (!isObject(node)) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'Ref' && typeof value === 'string') this.#ref(where, value, condition);
      else if (key === 'Fn::GetAtt') this.#getAtt(where, value, condition);
      else if (key === 'Fn::Sub') this.#sub(where, value, condition);
      else if (key === 'Fn::If' && Array.isArray(value)) this.#conditionExists(where, String(value[0]));
      else if (key === 'Condition' && typeof value === 'string' && isIntrinsicKeyOnly(node)) this.#conditionExists(where, value);
      this.#references(where, value, condition);
    }
  }

  #ref(where: string, name: string, condition: string | undefined): void {
    if (PSEUDO_PARAMETERS.has(name) || name in (this.template.Parameters ?? {})) return;
    if (!(name in this.template.Resources)) this.#problems.push(`${where}: Ref ${name}, which is neither a resource nor a parameter`);
    else this.#reachable(where, name, condition);
  }

  #getAtt(where: string, value: unknown, condition: string | undefined): void {
    const [id, attribute] = typeof value === 'string' ? splitOnce(value, '.') : Array.isArray(value) ? [String(value[0]), value[1]] : [undefined, undefined];
    if (id === undefined || typeof attribute !== 'string') {
      this.#problems.push(`${where}: malformed Fn::GetAtt ${JSON.stringify(value)}`);
      return;
    }
    const target = this.template.Resources[id];
    if (target === undefined) {
      this.#problems.push(`${where}: Fn::GetAtt ${id}.${attribute}, and ${id} is not a resource`);
      return;
    }
    this.#reachable(where, id, condition);
    const spec = this.#spec(target.Type);
    if (spec !== undefined && !(attribute in spec.attributes)) {
      this.#problems.push(
        `${where}: Fn::GetAtt ${id}.${attribute}: ${target.Type} has no attribute ${attribute} (it has ${Object.keys(spec.attributes).join(', ')})`,
      );
    }
  }

  #sub(where: string, value: unknown, condition: string | undefined): void {
    const [text, variables] =
      typeof value === 'string' ? [value, {}] : Array.isArray(value) ? [String(value[0]), (value[1] ?? {}) as Record<string, unknown>] : ['', {}];
    for (const [, name] of text.matchAll(/\$\{(?!!)([^}]+)\}/g)) {
      if (name! in variables) continue;
      if (name!.includes('.')) this.#getAtt(where, name, condition);
      else this.#ref(where, name!, condition);
    }
  }

  #conditionExists(where: string, name: string): void {
    if (!(name in (this.template.Conditions ?? {}))) this.#problems.push(`${where}: condition ${name} is not defined`);
  }

  /**
   * A resource made under a condition is there only when the condition holds: referring to it
   * from elsewhere fails the deploy when it is false. Conditions over literals (all this template
   * has) are evaluated; one that depends on a parameter is taken as possibly true.
   */
  #reachable(where: string, id: string, fromCondition: string | undefined): void {
    const condition = this.template.Resources[id]!.Condition;
    if (condition === undefined || condition === fromCondition) return;
    if (this.#evaluate({ Condition: condition }) === false)
      this.#problems.push(`${where}: refers to ${id}, which is not created here (condition ${condition} is false)`);
  }

  #evaluate(node: unknown): unknown {
    if (!isObject(node)) return node;
    if ('Condition' in node) return this.#evaluate(this.template.Conditions?.[node.Condition as string]);
    if ('Fn::Equals' in node) {
      const [a, b] = (node['Fn::Equals'] as unknown[]).map((side) => this.#evaluate(side));
      return isObject(a) || isObject(b) ? undefined : a === b;
    }
    if ('Fn::Not' in node) {
      const inner = this.#evaluate((node['Fn::Not'] as unknown[])[0]);
      return typeof inner === 'boolean' ? !inner : undefined;
    }
    if ('Fn::And' in node || 'Fn::Or' in node) {
      const values = ((node['Fn::And'] ?? node['Fn::Or']) as unknown[]).map((part) => this.#evaluate(part));
      if (values.some((v) => typeof v !== 'boolean')) return undefined;
      return 'Fn::And' in node ? values.every(Boolean) : values.some(Boolean);
    }
    return node;
  }
}

function isNoValue(value: unknown): boolean {
  return isObject(value) && value.Ref === 'AWS::NoValue';
}

/** `{ Condition: name }` as a condition function, not a resource's Condition key beside others. */
function isIntrinsicKeyOnly(node: Record<string, unknown>): boolean {
  return Object.keys(node).length === 1;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}
