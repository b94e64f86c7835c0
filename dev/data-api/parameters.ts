/**
 * Named parameters: `:name` in the SQL text, bound from the request's `parameters`.
 *
 * The statement goes to MySQL as a prepared statement: each `:name` becomes `?` and its value
 * travels as a typed bind value (longValue as BIGINT, doubleValue as DOUBLE, stringValue as a
 * string, DECIMAL as DECIMAL, blobValue as bytes), never as SQL text. So a string is a value
 * wherever MySQL takes one (`LIMIT :n` with a stringValue works, as on AWS), and no value can
 * change what the statement means.
 */
import mysql, { type ExecuteValues } from 'mysql2';
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

/** A statement ready to prepare: the SQL with `?` for each `:name`, and the names in order. */
export interface SqlTemplate {
  sql: string;
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

/**
 * A name is letters, digits and underscores, and may start with a digit: query builders that
 * number their parameters send `:0`, `:1`, which AWS accepts.
 */
const isNameChar = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || (c >= 48 && c <= 57); // A-Z a-z _ 0-9

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
      } else if (isNameChar(sql.charCodeAt(i + 1))) {
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
  return { sql: parts.join('?'), names };
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

/**
 * The bind values for the template's placeholders, in order. Unused parameters are ignored.
 * (A bare `?` in the SQL is a placeholder no name fills: MySQL then refuses the statement.)
 */
export function bindParameters(template: SqlTemplate, parameters: readonly SqlParameter[] | undefined): ExecuteValues[] {
  if (template.names.length === 0) return [];
  const byName = new Map<string, SqlParameter>();
  for (const parameter of parameters ?? []) {
    if (typeof parameter?.name !== 'string' || parameter.name === '') throw badRequest('Parameter name must be specified');
    byName.set(parameter.name, parameter);
  }
  return template.names.map((name) => {
    const parameter = byName.get(name);
    if (parameter === undefined) throw badRequest(`No value specified for parameter: ${name}`);
    return toValue(parameter);
  });
}

const { TypedParameter } = mysql;

/** What a JDBC driver binds for each member: setNull, setBoolean, setLong, setDouble, setString, setBytes. */
function toValue(parameter: SqlParameter): ExecuteValues {
  const { name, value, typeHint } = parameter;
  if (typeof value !== 'object' || value === null) throw badRequest(`Parameter ${name} has no value`);
  const members = Object.keys(value).filter((key) => value[key as keyof Field] !== undefined && value[key as keyof Field] !== null);
  if (members.length !== 1) throw badRequest(`Parameter ${name} must set exactly one value member`);
  switch (members[0]) {
    case 'isNull':
      if (value.isNull !== true) throw badRequest(`Parameter ${name}: isNull must be true when set`);
      return null;
    case 'booleanValue':
      return TypedParameter.TINY(value.booleanValue === true ? 1 : 0);
    case 'longValue': {
      const long = value.longValue;
      if (typeof long !== 'number' || !Number.isInteger(long)) throw badRequest(`Parameter ${name}: longValue must be an integer`);
      // BigInt keeps a long that JSON.parse already rounded past 2^53 (as AWS's JSON parser would not).
      const exact = BigInt(long);
      if (exact < -(2n ** 63n) || exact >= 2n ** 63n) throw badRequest(`Parameter ${name}: longValue is out of range for a 64-bit integer`);
      return TypedParameter.LONGLONG(exact);
    }
    case 'doubleValue': {
      const double = value.doubleValue;
      if (typeof double !== 'number' || !Number.isFinite(double)) throw badRequest(`Parameter ${name}: doubleValue must be a finite number`);
      return TypedParameter.DOUBLE(double);
    }
    case 'stringValue':
      return stringValue(name, value.stringValue, typeHint);
    case 'blobValue':
      if (typeof value.blobValue !== 'string') throw badRequest(`Parameter ${name}: blobValue must be base64`);
      return Buffer.from(value.blobValue, 'base64');
    case 'arrayValue':
      throw badRequest('Array parameters are not supported.');
    default:
      throw badRequest(`Parameter ${name} has an unknown value member ${members[0]}`);
  }
}

/** `YYYY-MM-DD` with a month and a day that exist (2026-02-29 does not). */
function isDate(year: string, month: string, day: string): boolean {
  const y = Number(year);
  const m = Number(month);
  const d = Number(day);
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return m >= 1 && m <= 12 && d >= 1 && d <= (m === 2 ? (leap ? 29 : 28) : DAYS_IN_MONTH[m - 1]!);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** `HH:MM:SS` on a 24-hour clock. */
const isTime = (hours: string, minutes: string, seconds: string) => Number(hours) <= 23 && Number(minutes) <= 59 && Number(seconds) <= 59;

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?$/;
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Each typeHint: whether a string is a value of that type, and the error text when it is not.
 * The date and time texts are those of Java's Timestamp/Date/Time.valueOf, which the Data API
 * most likely calls; the others say the same thing in the same way. Values are checked as
 * values, not only as shapes: 2026-13-45 and 25:99:99 are refused.
 */
const TYPE_HINTS: Record<string, { valid(text: string): boolean; message: string }> = {
  TIMESTAMP: {
    valid: (text) => {
      const m = TIMESTAMP.exec(text);
      return m !== null && isDate(m[1]!, m[2]!, m[3]!) && isTime(m[4]!, m[5]!, m[6]!);
    },
    message: 'Timestamp format must be yyyy-mm-dd hh:mm:ss[.fffffffff]',
  },
  DATE: {
    valid: (text) => {
      const m = DATE.exec(text);
      return m !== null && isDate(m[1]!, m[2]!, m[3]!);
    },
    message: 'Date format must be yyyy-mm-dd',
  },
  TIME: {
    valid: (text) => {
      const m = TIME.exec(text);
      return m !== null && isTime(m[1]!, m[2]!, m[3]!);
    },
    message: 'Time format must be hh:mm:ss[.fff]',
  },
  DECIMAL: { valid: (text) => DECIMAL.test(text), message: 'Decimal format must be [+-]digits[.digits][E[+-]digits]' },
  UUID: { valid: (text) => UUID.test(text), message: 'UUID format must be xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hexadecimal digits)' },
  JSON: { valid: isJson, message: 'JSON value must be a valid JSON document' },
};

/**
 * typeHint applies to string values only; a hint on another member is ignored (what AWS does
 * then is not documented). Every hint is validated the same way: a value that is not of the
 * hinted type is a BadRequestException naming the parameter and the expected format.
 */
function stringValue(name: string | undefined, text: unknown, typeHint: string | undefined): ExecuteValues {
  if (typeof text !== 'string') throw badRequest(`Parameter ${name}: stringValue must be a string`);
  if (typeHint === undefined) return text;
  const hint = TYPE_HINTS[typeHint];
  if (hint === undefined) throw badRequest(`Parameter ${name}: unknown typeHint ${typeHint}`);
  if (!hint.valid(text)) throw badRequest(`Parameter ${name}: ${hint.message}`);
  // DECIMAL is bound as a DECIMAL (JDBC setBigDecimal), so MySQL compares and computes exactly.
  // Dates and times stay strings, which MySQL converts in context with every fractional digit
  // (a java.sql.Timestamp would keep them too; a JavaScript Date would not).
  return typeHint === 'DECIMAL' ? TypedParameter.NEWDECIMAL(text) : text;
}
