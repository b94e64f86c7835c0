import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';

export const DATABASE_URL = process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306';

/** Creates an empty utf8mb4 database with a unique name; returns its name. */
export async function createTestDatabase(prefix = 'aq_test', databaseUrl = DATABASE_URL): Promise<string> {
  const database = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = await mysql.createConnection(databaseUrl);
  try {
    await admin.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await admin.end();
  }
  return database;
}

export async function dropTestDatabase(database: string, databaseUrl = DATABASE_URL): Promise<void> {
  const admin = await mysql.createConnection(databaseUrl);
  try {
    await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await admin.end();
  }
}
