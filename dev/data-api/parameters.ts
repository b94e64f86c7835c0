/**
 * Named parameters: `:name` in the SQL text, bound from the request's `parameters`.
 *
 * Values are rendered as escaped SQL literals and the statement goes to MySQL as text, which is
 * what a JDBC driver does by default (Connector/J and MariaDB Connector/J both emulate prepared
 * statements client-side unless told otherwise). It keeps the text protocol, and with it the
 * raw strings for dates and big numbers, for every statement, and costs no extra round trip
 * to prepare.
 */
import mysql from 'mysql2';
import { badRequest } from './errors.js';

export interface SqlParameter {
  name?: string;
  value?: Field;
  typeHint?: string;
}

export interface Field {
  isNull?: boolean;
  booleanValue?: boolean;
  longValue?: number;
  doubleValue?: number;
  stringValue?: string;
  blobValue?: string;
  arrayValue?: unknown;
}

/** SQL split around its parameters: `parts[0] :names[0] parts[1] … parts[n]`. */
export interface SqlTemplate {
  parts: string[];
  names: string[];
}

const templateCache = new Map<string, SqlTemplate>();
const TEMPLATE_CACHE_SIZE = 2000;

/** Parses once per distinct SQL text: the product sends the same few statements over and over. */
export function parseSql(sql: string): SqlTemplate {
  let template = templateCache.get(sql);
  if (template === undefined) {
    template = tokenize(sql);
    if (templateCache.size >= TEMPLATE_CACHE_SIZE) templateCache.clear();
    templateCache.set(sql, template);
  }
  return template;
}

const isNameStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95; // A-Z a-z _
const isNameChar = (c: number) => isNameStart(c) || (c >= 48 && c <= 57);

/**
 * Finds `:name` outside string literals ('…', "…"), quoted identifiers (`…`) and comments
 * (#…, -- …, /* … *\/). `::` is skipped (a PostgreSQL cast, never a parameter) and `:=` is
 * MySQL's assignment operator, which no name follows.
 */
function tokenize(sql: string): SqlTemplate {
  const parts: string[] = [];
  const names: string[] = [];
  const n = sql.length;
  let start = 0;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 39 /* ' */ || c === 34 /* " */ || c === 96 /* ` */) {
      i = skipQuoted(sql, i, c);
    } else if (c === 35 /* # */ || (c === 45 /* - */ && sql.charCodeAt(i + 1) === 45 && isCommentSpace(sql.charCodeAt(i + 2)))) {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
    } else if (c === 47 /* / */ && sql.charCodeAt(i + 1) === 42 /* * */) {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
    } else if (c === 58 /* : */) {
      if (sql.charCodeAt(i + 1) === 58) {
        i += 2;
      } else if (isNameStart(sql.charCodeAt(i + 1))) {
        let end = i + 2;
        while (end < n && isNameChar(sql.charCodeAt(end))) end++;
        parts.push(sql.slice(start, i));
        names.push(sql.slice(i + 1, end));
        start = i = end;
      } else {
        i++;
      }
    } else {
      i++;
    }
  }
  parts.push(sql.slice(start));
  return { parts, names };
}

/** MySQL's `--` starts a comment only when followed by whitespace, a control character or the end. */
const isCommentSpace = (c: number) => Number.isNaN(c) || c <= 32;

/** Index just past the literal or identifier opened at `i`; a doubled quote or a backslash escapes. */
function skipQuoted(sql: string, i: number, quote: number): number {
  const n = sql.length;
  i++;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 92 /* \ */ && quote !== 96) {
      i += 2;
    } else if (c === quote) {
      if (sql.charCodeAt(i + 1) !== quote) return i + 1;
      i += 2;
    } else {
      i++;
    }
  }
  return n;
}

/** The SQL text with every parameter replaced by its literal. Unused parameters are ignored. */
export function bindParameters(template: SqlTemplate, parameters: readonly SqlParameter[] | undefined): string {
  if (template.names.length === 0) return template.parts[0]!;
  const byName = new Map<string, SqlParameter>();
  for (const parameter of parameters ?? []) {
    if (typeof parameter?.name !== 'string' || parameter.name === '') throw badRequest('Parameter name must be specified');
    byName.set(parameter.name, parameter);
  }
  let sql = template.parts[0]!;
  for (let i = 0; i < template.names.length; i++) {
    const name = template.names[i]!;
    const parameter = byName.get(name);
    if (parameter === undefined) throw badRequest(`No value specified for parameter: ${name}`);
    sql += toLiteral(parameter) + template.parts[i + 1]!;
  }
  return sql;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIME = /^\d{2}:\d{2}:\d{2}(\.\d{1,9})?$/;
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function toLiteral(parameter: SqlParameter): string {
  const { name, value, typeHint } = parameter;
  if (typeof value !== 'object' || value === null) throw badRequest(`Parameter ${name} has no value`);
  const members = Object.keys(value).filter((key) => value[key as keyof Field] !== undefined && value[key as keyof Field] !== null);
  if (members.length !== 1) throw badRequest(`Parameter ${name} must set exactly one value member`);
  switch (members[0]) {
    case 'isNull':
      if (value.isNull !== true) throw badRequest(`Parameter ${name}: isNull must be true when set`);
      return 'NULL';
    case 'booleanValue':
      return value.booleanValue === true ? 'TRUE' : 'FALSE';
    case 'longValue': {
      const long = value.longValue;
      if (typeof long !== 'number' || !Number.isInteger(long)) throw badRequest(`Parameter ${name}: longValue must be an integer`);
      // BigInt avoids exponent notation (1e+21) for longs that JSON.parse already rounded.
      return BigInt(long).toString();
    }
    case 'doubleValue': {
      const double = value.doubleValue;
      if (typeof double !== 'number' || !Number.isFinite(double)) throw badRequest(`Parameter ${name}: doubleValue must be a finite number`);
      return String(double);
    }
    case 'stringValue':
      return stringLiteral(name, value.stringValue, typeHint);
    case 'blobValue':
      if (typeof value.blobValue !== 'string') throw badRequest(`Parameter ${name}: blobValue must be base64`);
      return mysql.escape(Buffer.from(value.blobValue, 'base64'));
    case 'arrayValue':
      throw badRequest('Array parameters are not supported.');
    default:
      throw badRequest(`Parameter ${name} has an unknown value member ${members[0]}`);
  }
}

/**
 * typeHint applies to string values only; a hint on another member is ignored (what AWS does
 * then is not documented). The format checks follow the documented formats; the messages are
 * those of Java's Timestamp/Date/Time.valueOf, which the Data API most likely calls.
 */
function stringLiteral(name: string | undefined, text: unknown, typeHint: string | undefined): string {
  if (typeof text !== 'string') throw badRequest(`Parameter ${name}: stringValue must be a string`);
  switch (typeHint) {
    case undefined:
    case 'JSON':
    case 'UUID':
      break;
    case 'TIMESTAMP':
      if (!TIMESTAMP.test(text)) throw badRequest('Timestamp format must be yyyy-mm-dd hh:mm:ss[.fffffffff]');
      break;
    case 'DATE':
      if (!DATE.test(text)) throw badRequest('Date format must be yyyy-mm-dd');
      break;
    case 'TIME':
      if (!TIME.test(text)) throw badRequest('Time format must be hh:mm:ss[.fff]');
      break;
    case 'DECIMAL':
      if (!DECIMAL.test(text)) throw badRequest(`Parameter ${name}: '${text}' is not a DECIMAL`);
      // Bound as a number (JDBC setBigDecimal), so MySQL compares and computes exactly.
      return text;
    default:
      throw badRequest(`Parameter ${name}: unknown typeHint ${typeHint}`);
  }
  return mysql.escape(text);
}
