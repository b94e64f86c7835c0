/**
 * `columnMetadata` as a JDBC-based service reports it: `type` is the java.sql.Types code and
 * `typeName` the name MySQL Connector/J gives (TINYINT(1) is BIT, as with its default
 * tinyInt1isBit). precision/scale approximate Connector/J's rules; nothing known reads them.
 */
import mysql from 'mysql2';
import type { FieldPacket } from 'mysql2';

export interface ColumnMetadata {
  name: string;
  type: number;
  typeName: string;
  label: string;
  schemaName: string;
  tableName: string;
  isAutoIncrement: boolean;
  isSigned: boolean;
  isCurrency: boolean;
  isCaseSensitive: boolean;
  nullable: number;
  precision: number;
  scale: number;
  arrayBaseColumnType: number;
}

/** MySQL protocol column types (mysql2's Types). */
export const T = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const;

const FLAG = { NOT_NULL: 1, UNSIGNED: 32, AUTO_INCREMENT: 512, ENUM: 256, SET: 2048 } as const;
export const BINARY_CHARSET = 63;

/** java.sql.Types codes. */
const J = {
  BIT: -7,
  TINYINT: -6,
  SMALLINT: 5,
  INTEGER: 4,
  BIGINT: -5,
  REAL: 7,
  DOUBLE: 8,
  DECIMAL: 3,
  CHAR: 1,
  VARCHAR: 12,
  LONGVARCHAR: -1,
  BINARY: -2,
  VARBINARY: -3,
  LONGVARBINARY: -4,
  DATE: 91,
  TIME: 92,
  TIMESTAMP: 93,
  NULL: 0,
  OTHER: 1111,
} as const;

const flagsOf = (field: FieldPacket) => (typeof field.flags === 'number' ? field.flags : 0);

/**
 * JSON columns: MySQL sends type JSON (245); MariaDB sends LONGTEXT and names the format in its
 * extended metadata (mysql2 negotiates it), so both are recognised without a catalog lookup.
 */
export const isJsonColumn = (field: FieldPacket) => field.columnType === T.JSON || field.extendedFormat === 'json';

/** TINYINT(1) and BIT come back as booleans (BIT(N>1) too; see results.ts). */
export const isBooleanColumn = (field: FieldPacket) => (field.columnType === T.TINY && field.columnLength === 1) || field.columnType === T.BIT;

export function columnMetadata(field: FieldPacket): ColumnMetadata {
  const flags = flagsOf(field);
  const unsigned = (flags & FLAG.UNSIGNED) !== 0;
  const [typeName, type] = typeOf(field, flags, unsigned);
  const numeric = NUMERIC_TYPES.has(typeName.replace(' UNSIGNED', ''));
  const decimals = field.decimals >= 31 ? 0 : field.decimals; // 31 (MySQL) / 39 (MariaDB): not fixed
  const length = field.columnLength ?? 0;
  return {
    name: field.orgName || field.name,
    type,
    typeName,
    label: field.name,
    // Connector/J treats MySQL databases as catalogs and reports no schema name.
    schemaName: '',
    tableName: field.orgTable || field.table || '',
    isAutoIncrement: (flags & FLAG.AUTO_INCREMENT) !== 0,
    isSigned: numeric && !unsigned,
    isCurrency: false,
    isCaseSensitive: isCaseSensitive(field, type),
    nullable: (flags & FLAG.NOT_NULL) !== 0 ? 0 : 1,
    precision: precisionOf(field, typeName, length, unsigned, decimals),
    scale: typeName.startsWith('DECIMAL') || typeName.startsWith('FLOAT') || typeName.startsWith('DOUBLE') ? decimals : 0,
    arrayBaseColumnType: 0,
  };
}

const NUMERIC_TYPES = new Set(['TINYINT', 'SMALLINT', 'MEDIUMINT', 'INT', 'BIGINT', 'FLOAT', 'DOUBLE', 'DECIMAL']);

function typeOf(field: FieldPacket, flags: number, unsigned: boolean): [string, number] {
  const u = unsigned ? ' UNSIGNED' : '';
  const binary = field.characterSet === BINARY_CHARSET;
  switch (field.columnType) {
    case T.DECIMAL:
    case T.NEWDECIMAL:
      return [`DECIMAL${u}`, J.DECIMAL];
    case T.TINY:
      return field.columnLength === 1 ? ['BIT', J.BIT] : [`TINYINT${u}`, J.TINYINT];
    case T.SHORT:
      return [`SMALLINT${u}`, unsigned ? J.INTEGER : J.SMALLINT];
    case T.INT24:
      return [`MEDIUMINT${u}`, J.INTEGER];
    case T.LONG:
      return [`INT${u}`, unsigned ? J.BIGINT : J.INTEGER];
    case T.LONGLONG:
      return [`BIGINT${u}`, J.BIGINT];
    case T.FLOAT:
      return [`FLOAT${u}`, J.REAL];
    case T.DOUBLE:
      return [`DOUBLE${u}`, J.DOUBLE];
    case T.NULL:
      return ['NULL', J.NULL];
    case T.TIMESTAMP:
      return ['TIMESTAMP', J.TIMESTAMP];
    case T.DATETIME:
      return ['DATETIME', J.TIMESTAMP];
    case T.DATE:
    case T.NEWDATE:
      return ['DATE', J.DATE];
    case T.TIME:
      return ['TIME', J.TIME];
    case T.YEAR:
      return ['YEAR', J.DATE];
    case T.BIT:
      return ['BIT', J.BIT];
    case T.JSON:
      return ['JSON', J.LONGVARCHAR];
    case T.VARCHAR:
    case T.VAR_STRING:
      return binary ? ['VARBINARY', J.VARBINARY] : ['VARCHAR', J.VARCHAR];
    case T.ENUM:
    case T.SET:
    case T.STRING:
      if (flags & FLAG.ENUM || field.columnType === T.ENUM) return ['ENUM', J.CHAR];
      if (flags & FLAG.SET || field.columnType === T.SET) return ['SET', J.CHAR];
      return binary ? ['BINARY', J.BINARY] : ['CHAR', J.CHAR];
    case T.TINY_BLOB:
    case T.MEDIUM_BLOB:
    case T.LONG_BLOB:
    case T.BLOB:
      if (isJsonColumn(field)) return ['JSON', J.LONGVARCHAR];
      return blobType(field.columnLength ?? 0, binary);
    case T.GEOMETRY:
      return ['GEOMETRY', J.BINARY];
    default:
      return ['UNKNOWN', J.OTHER];
  }
}

/**
 * The wire reports one BLOB type for all sizes; the byte length tells them apart. Text lengths
 * are in bytes (characters × up to 4), so each tier's bound is 4× the single-byte one.
 */
function blobType(length: number, binary: boolean): [string, number] {
  const tier = binary
    ? length <= 255
      ? 0
      : length <= 65_535
        ? 1
        : length <= 16_777_215
          ? 2
          : 3
    : length <= 1_020
      ? 0
      : length <= 262_140
        ? 1
        : length <= 67_108_860
          ? 2
          : 3;
  if (binary) return [['TINYBLOB', 'BLOB', 'MEDIUMBLOB', 'LONGBLOB'][tier]!, tier === 0 ? J.VARBINARY : J.LONGVARBINARY];
  return [['TINYTEXT', 'TEXT', 'MEDIUMTEXT', 'LONGTEXT'][tier]!, tier === 0 ? J.VARCHAR : J.LONGVARCHAR];
}

let collationNames: Map<number, string> | undefined;

function collationName(id: number | undefined): string {
  if (collationNames === undefined) {
    collationNames = new Map(Object.entries(mysql.Charsets as unknown as Record<string, number>).map(([name, number]) => [number, name.toLowerCase()]));
  }
  return (id !== undefined && collationNames.get(id)) || '';
}

/**
 * Connector/J: numbers and dates are not case sensitive; text is unless its collation is `_ci`.
 * The wire carries the collation results are converted to (the connection's, a `_ci` one), not
 * the column's, so text reads as case-insensitive here as it would through Connector/J.
 */
function isCaseSensitive(field: FieldPacket, type: number): boolean {
  switch (type) {
    case J.CHAR:
    case J.VARCHAR:
    case J.LONGVARCHAR:
      return field.characterSet === BINARY_CHARSET || !collationName(field.characterSet).endsWith('_ci');
    case J.BINARY:
    case J.VARBINARY:
    case J.LONGVARBINARY:
      return true;
    default:
      return false;
  }
}

function bytesPerCharacter(field: FieldPacket): number {
  if (field.characterSet === BINARY_CHARSET) return 1;
  const name = collationName(field.characterSet);
  if (name.startsWith('utf8mb4') || name.startsWith('utf16') || name.startsWith('utf32')) return 4;
  if (name.startsWith('utf8')) return 3;
  if (name.startsWith('ucs2')) return 2;
  return name === '' ? 4 : 1;
}

function precisionOf(field: FieldPacket, typeName: string, length: number, unsigned: boolean, decimals: number): number {
  // DECIMAL(p,s) is sent with room for the sign and the point.
  if (typeName.startsWith('DECIMAL')) return length - (unsigned ? 0 : 1) - (decimals > 0 ? 1 : 0);
  if (typeName.endsWith('BLOB')) return length;
  return Math.floor(length / bytesPerCharacter(field));
}
