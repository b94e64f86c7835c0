/**
 * Request validation, with the limits of the API model. Failures are BadRequestException naming
 * the member, in the wording AWS uses for model constraints (the exact text the Data API
 * sends for them is not documented).
 */
import { badRequest } from './errors.js';
import type { SqlParameter } from './parameters.js';
import type { ResultOptions } from './results.js';

export const MAX_SQL_LENGTH = 65_536;

export interface TargetRequest {
  resourceArn: string;
  secretArn: string;
  database?: string;
}

export interface ExecuteRequest extends TargetRequest, ResultOptions {
  sql: string;
  parameters?: SqlParameter[];
  transactionId?: string;
  continueAfterTimeout: boolean;
}

export interface BatchExecuteRequest extends TargetRequest {
  sql: string;
  parameterSets: SqlParameter[][];
  transactionId?: string;
}

export interface TransactionRequest extends TargetRequest {
  transactionId: string;
}

type Body = Record<string, unknown>;

function asBody(input: unknown): Body {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw badRequest('The request body must be a JSON object');
  return input as Body;
}

function string(body: Body, member: string, required: boolean, min: number, max: number): string | undefined {
  const value = body[member];
  if (value === undefined || value === null) {
    if (required) throw badRequest(`Value null at '${member}' failed to satisfy constraint: Member must not be null`);
    return undefined;
  }
  if (typeof value !== 'string') throw badRequest(`Value at '${member}' failed to satisfy constraint: Member must be a string`);
  if (value.length < min) throw badRequest(`Value at '${member}' failed to satisfy constraint: Member must have length greater than or equal to ${min}`);
  if (value.length > max) throw badRequest(`Value at '${member}' failed to satisfy constraint: Member must have length less than or equal to ${max}`);
  return value;
}

function boolean(body: Body, member: string): boolean {
  const value = body[member];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw badRequest(`Value at '${member}' failed to satisfy constraint: Member must be a boolean`);
  return value;
}

function oneOf<T extends string>(value: unknown, member: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === null) return fallback;
  if (!allowed.includes(value as T)) {
    throw badRequest(
      `Value '${typeof value === 'string' ? value : JSON.stringify(value)}' at '${member}' failed to satisfy constraint: Member must satisfy enum value set: [${allowed.join(', ')}]`,
    );
  }
  return value as T;
}

function list<T>(value: unknown, member: string): T[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw badRequest(`Value at '${member}' failed to satisfy constraint: Member must be a list`);
  return value as T[];
}

function target(body: Body): TargetRequest {
  const resourceArn = string(body, 'resourceArn', true, 11, 100)!;
  const secretArn = string(body, 'secretArn', true, 11, 100)!;
  const database = string(body, 'database', false, 0, 64);
  // `schema` is accepted and ignored: "Currently, the schema parameter isn't supported."
  string(body, 'schema', false, 0, 64);
  return database === undefined ? { resourceArn, secretArn } : { resourceArn, secretArn, database };
}

export function executeRequest(input: unknown): ExecuteRequest {
  const body = asBody(input);
  const options = (body.resultSetOptions ?? {}) as Body;
  if (typeof options !== 'object') throw badRequest(`Value at 'resultSetOptions' failed to satisfy constraint: Member must be a structure`);
  const transactionId = string(body, 'transactionId', false, 0, 192);
  return {
    ...target(body),
    sql: string(body, 'sql', true, 0, MAX_SQL_LENGTH)!,
    parameters: list<SqlParameter>(body.parameters, 'parameters'),
    ...(transactionId === undefined ? {} : { transactionId }),
    includeResultMetadata: boolean(body, 'includeResultMetadata'),
    continueAfterTimeout: boolean(body, 'continueAfterTimeout'),
    formatRecordsAs: oneOf(body.formatRecordsAs, 'formatRecordsAs', ['NONE', 'JSON'], 'NONE'),
    decimalReturnType: oneOf(options.decimalReturnType, 'resultSetOptions.decimalReturnType', ['STRING', 'DOUBLE_OR_LONG'], 'STRING'),
    longReturnType: oneOf(options.longReturnType, 'resultSetOptions.longReturnType', ['LONG', 'STRING'], 'LONG'),
  };
}

export function batchExecuteRequest(input: unknown): BatchExecuteRequest {
  const body = asBody(input);
  const parameterSets = list<SqlParameter[]>(body.parameterSets, 'parameterSets') ?? [];
  for (const set of parameterSets) list(set, 'parameterSets.member');
  const transactionId = string(body, 'transactionId', false, 0, 192);
  return {
    ...target(body),
    sql: string(body, 'sql', true, 0, MAX_SQL_LENGTH)!,
    parameterSets,
    ...(transactionId === undefined ? {} : { transactionId }),
  };
}

export function beginTransactionRequest(input: unknown): TargetRequest {
  return target(asBody(input));
}

export function endTransactionRequest(input: unknown): TransactionRequest {
  const body = asBody(input);
  return { ...target(body), transactionId: string(body, 'transactionId', true, 0, 192)! };
}
