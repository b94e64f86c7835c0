import type { Db } from '../db/types.js';
import { MESSAGE_COLUMNS, toMessage, type Message } from './message.js';

const GET_MESSAGE = `SELECT ${MESSAGE_COLUMNS} FROM queue_messages WHERE id = :id`;

export async function getMessage(db: Db, id: string): Promise<Message | undefined> {
  const [row] = await db.query(GET_MESSAGE, { id }, { idempotent: true });
  return row ? toMessage(row) : undefined;
}
