/**
 * MySQL results → ExecuteStatement responses: `records` as Field[][] (or `formattedRecords`),
 * `columnMetadata`, `numberOfRecordsUpdated`, `generatedFields`, and the response limits.
 */
import type { FieldPacket } from 'mysql2';
import type { QueryResult } from './connections.js';
import { badRequest } from './errors.js';
import { BINARY_CHARSET, columnMetadata, isBooleanColumn, T } from './metadata.js';
import type { Field } from './parameters.js';

export interface ResultOptions {
  /** Refuse a row over 64 KB as AWS documents (default); false behaves as real clusters were seen to. */
  rowLimit?: boolean;
  includeResultMetadata: boolean;
  formatRecordsAs: 'NONE' | 'JSON';
  decimalReturnType: 'STRING' | 'DOUBLE_OR_LONG';
  longReturnType: 'LONG' | 'STRING';
}

export const MAX_RESPONSE_BYTES = 1024 * 1024;
export const MAX_FORMATTED_RECORDS_BYTES = 10 * 1000 * 1000;
export const MAX_ROW_BYTES = 64 * 1024;

/** How one column's values are rendered; decided once per column, not per value. */
type Kind = 'null' | 'boolean' | 'long' | 'float' | 'double' | 'decimal' | 'string' | 'temporal' | 'blob';

function kindOf(field: FieldPacket): Kind {
  if (isBooleanColumn(field)) return 'boolean';
  switch (field.columnType) {
    case T.TINY:
    case T.SHORT:
    case T.LONG:
    case T.INT24:
    case T.LONGLONG:
    case T.YEAR: // [DAC]'s test reads YEAR back as a number
      return 'long';
    case T.FLOAT:
      return 'float';
    case T.DOUBLE:
      return 'double';
    case T.DECIMAL:
    case T.NEWDECIMAL:
      return 'decimal';
    case T.DATE:
    case T.NEWDATE:
    case T.TIME:
    case T.DATETIME:
    case T.TIMESTAMP:
      return 'temporal';
    case T.NULL:
      return 'null';
    case T.GEOMETRY:
      return 'blob';
    default:
      // CHAR/VARCHAR/TEXT/ENUM/SET/JSON, or their binary twins BINARY/VARBINARY/BLOB.
      return field.characterSet === BINARY_CHARSET ? 'blob' : 'string';
  }
}

/**
 * A FLOAT as MySQL prints it: the shortest decimal that is the same 32-bit float. Prepared
 * statements return the float's bits, so 0.1 arrives as 0.10000000149011612; MySQL's text
 * protocol (and a JDBC getDouble over it) gives 0.1.
 */
function shortestFloat(value: number): number {
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

/**
 * A value the driver returned as text or a number (connections.ts asks for dates, big numbers and
 * JSON as strings), as text. Bytes are read as UTF-8; anything else is a bug here, not data.
 */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  throw new TypeError(`the driver returned a ${typeof value} where text or a number was expected`);
}

/** `2024-01-02 03:04:05.120000` → `2024-01-02 03:04:05.12`; `…05.000` → `…05`. */
const trimFraction = (text: string) => (text.includes('.') ? text.replace(/\.?0+$/, '') : text);

function toField(value: unknown, kind: Kind, options: ResultOptions, scale: number): Field {
  if (value === null) return { isNull: true };
  switch (kind) {
    case 'boolean':
      // TINYINT(1) arrives as a number, BIT(n) as bytes. BIT(n>1) as a boolean (any bit set) is
      // a guess: Connector/J reports every BIT as java.sql.Types.BIT, read with getBoolean.
      return { booleanValue: typeof value === 'number' ? value !== 0 : (value as Buffer).some((byte) => byte !== 0) };
    case 'long':
      // BIGINT arrives as text: JSON.parse in the SDK loses digits beyond 2^53 exactly as with AWS.
      // longReturnType STRING applies to records too (unverified; the documentation only says
      // it controls how LONG fields are "represented", and the product relies on it).
      return options.longReturnType === 'STRING' ? { stringValue: text(value) } : { longValue: Number(value) };
    case 'float':
      return { doubleValue: shortestFloat(Number(value)) };
    case 'double':
      return { doubleValue: Number(value) };
    case 'decimal':
      if (options.decimalReturnType === 'DOUBLE_OR_LONG') return scale === 0 ? { longValue: Number(value) } : { doubleValue: Number(value) };
      return { stringValue: value as string };
    case 'temporal':
      return { stringValue: trimFraction(value as string) };
    case 'blob':
      return { blobValue: (value as Buffer).toString('base64') };
    case 'null':
      return { isNull: true };
    default:
      return { stringValue: text(value) };
  }
}

/** The same value as a JSON fragment of `formattedRecords`. Longs keep their exact digits. */
function toJson(value: unknown, kind: Kind, options: ResultOptions, scale: number): string {
  if (value === null) return 'null';
  switch (kind) {
    case 'boolean':
    case 'float':
    case 'double':
    case 'decimal': {
      const field = toField(value, kind, options, scale);
      return JSON.stringify(field.booleanValue ?? field.doubleValue ?? field.longValue ?? field.stringValue);
    }
    case 'long':
      return options.longReturnType === 'STRING' ? `"${text(value)}"` : text(value);
    case 'temporal':
      return JSON.stringify(trimFraction(value as string));
    case 'blob':
      return `"${(value as Buffer).toString('base64')}"`;
    case 'null':
      return 'null';
    default:
      return JSON.stringify(text(value));
  }
}

/**
 * A single row larger than 64 KB fails the call, as [LIM] documents. (Note: [DAC]'s tests read
 * 100 KB text and 500 KB blob values on Aurora MySQL 3, so v2 may not enforce this; being
 * stricter here only errs on the safe side.) Strings count as UTF-8.
 */
function checkRowSize(row: unknown[]): void {
  let upperBound = 0;
  for (const value of row) upperBound += typeof value === 'string' ? value.length * 3 : Buffer.isBuffer(value) ? value.length : 8;
  if (upperBound <= MAX_ROW_BYTES) return;
  const bytes = rowBytes(row);
  if (bytes > MAX_ROW_BYTES) {
    // The Data API documents this text ("Packet for query is too large") for oversized rows.
    throw badRequest(`Packet for query is too large (${bytes} > ${MAX_ROW_BYTES}).`);
  }
}

/** A result row's size as the row limit counts it: strings as UTF-8, blobs as their bytes, 8 for any other value. */
export function rowBytes(row: unknown[]): number {
  let bytes = 0;
  for (const value of row) bytes += typeof value === 'string' ? Buffer.byteLength(value) : Buffer.isBuffer(value) ? value.length : 8;
  return bytes;
}

/** The ExecuteStatement response body, as JSON text (it is measured against the size limit). */
export function executeResponse(result: QueryResult, options: ResultOptions): string {
  const { rows, fields } = result;
  if (rows === undefined || fields === undefined) {
    const header = result.header!;
    // An auto-increment INSERT reports its id; MySQL sends 0 when nothing was generated.
    const generatedFields = header.insertId > 0 ? [{ longValue: header.insertId }] : [];
    return JSON.stringify({ generatedFields, numberOfRecordsUpdated: header.affectedRows });
  }

  const kinds = fields.map(kindOf);
  const scales = fields.map((field) => field.decimals);
  if (options.rowLimit !== false) for (const row of rows) checkRowSize(row);

  if (options.formatRecordsAs === 'JSON') {
    const formattedRecords = formatRecords(rows, fields, kinds, scales, options);
    if (formattedRecords.length > MAX_FORMATTED_RECORDS_BYTES / 3 && Buffer.byteLength(formattedRecords) > MAX_FORMATTED_RECORDS_BYTES) {
      throw badRequest('Database response exceeded size limit');
    }
    return JSON.stringify({ numberOfRecordsUpdated: 0, formattedRecords });
  }

  const records = new Array<Field[]>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    const record = new Array<Field>(row.length);
    for (let c = 0; c < row.length; c++) record[c] = toField(row[c], kinds[c]!, options, scales[c]!);
    records[r] = record;
  }
  const response = options.includeResultMetadata
    ? { columnMetadata: fields.map(columnMetadata), numberOfRecordsUpdated: 0, records }
    : { numberOfRecordsUpdated: 0, records };
  const body = JSON.stringify(response);
  // Which class AWS uses here is not documented: BadRequestException, with the text of the
  // current troubleshooting page. (UnsupportedResultException, "the size was too large", is
  // the other candidate.) Both are 400s that no SDK retries.
  // A UTF-16 unit counts at most 6 bytes, so short bodies skip the count.
  if (body.length > MAX_RESPONSE_BYTES / 6 && worstCaseResponseBytes(body) > MAX_RESPONSE_BYTES) {
    throw badRequest('Database response exceeded size limit');
  }
  return body;
}

/**
 * A response body's size as AWS may count it. How the Data API encodes strings is not documented
 * (../shared/reference/rds-data-api.md says nothing of it): JSON.stringify escapes only quotes,
 * backslashes and control characters, but an encoder may also write every non-ASCII character as
 * `\uXXXX`, 6 bytes per UTF-16 unit (3 for 'é' stored in 2, 12 for an emoji stored in 4). Counting
 * that is the stricter reading, so a read that fits here fits either way. (The body is still sent
 * as plain UTF-8.)
 */
export function worstCaseResponseBytes(body: string): number {
  let nonAscii = 0;
  for (let i = 0; i < body.length; i++) if (body.charCodeAt(i) > 0x7f) nonAscii++;
  return body.length + 5 * nonAscii;
}

/**
 * Objects keyed by column label. Duplicate labels are refused, as documented (the error class
 * is not; BadRequestException).
 */
function formatRecords(rows: unknown[][], fields: FieldPacket[], kinds: Kind[], scales: number[], options: ResultOptions): string {
  const keys = fields.map((field) => JSON.stringify(field.name) + ':');
  if (new Set(keys).size !== keys.length) throw badRequest('The result set contains duplicate column names; use aliases');
  const objects = new Array<string>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    let object = '{';
    for (let c = 0; c < row.length; c++) {
      if (c > 0) object += ',';
      object += keys[c]! + toJson(row[c], kinds[c]!, options, scales[c]!);
    }
    objects[r] = object + '}';
  }
  return '[' + objects.join(',') + ']';
}
