import { createError } from '@middy/util';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { DataApiUnavailableError, DatabaseError, DatabaseResumingError, DeadlockError, DuplicateKeyError } from '../../lib/db/index.js';
import { ConflictError, NotFoundError, PermanentError, RetryableError, TooLargeError, ValidationError } from '../../lib/errors.js';
import { responseForError } from '../../lib/http/errorHandler.js';
import { HttpError, UnsupportedMediaTypeError } from '../../lib/http/errors.js';

function respond(error: unknown) {
  const logged: { level: string; fault: unknown }[] = [];
  const response = responseForError(error, (level, _message, fault) => void logged.push({ level, fault }));
  return { status: response.statusCode, headers: response.headers ?? {}, body: JSON.parse(response.body as string), logged };
}

describe('responseForError', () => {
  it('answers a refusal of the domain with its status, unlogged', () => {
    expect(respond(new NotFoundError('unknown_queue', 'queue "x" is not declared', 'queue'))).toEqual({
      status: 404,
      headers: expect.any(Object),
      body: { error: { code: 'unknown_queue', message: 'queue "x" is not declared', field: 'queue' } },
      logged: [],
    });
    expect(respond(new ConflictError('not_cancellable', 'message is running', { messageStatus: 'running' }))).toMatchObject({
      status: 409,
      body: { error: { code: 'not_cancellable', message: 'message is running', status: 'running' } },
      logged: [],
    });
    const issue = { field: 'messages[0].payload', rule: 'max_bytes', message: 'is 70000 bytes' };
    expect(respond(new ValidationError([issue]))).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_input', message: 'messages[0].payload: is 70000 bytes', field: 'messages[0].payload', rule: 'max_bytes' } },
    });
    expect(respond(new TooLargeError([issue]))).toMatchObject({ status: 413, body: { error: { code: 'too_large', field: 'messages[0].payload' } } });
    expect(respond(new ValidationError([{ field: '', rule: 'max_request_bytes', message: 'too big' }])).body).toEqual({
      error: { code: 'invalid_input', message: 'too big', rule: 'max_request_bytes' },
    });
  });

  it('answers an HttpError as it says, headers included, unlogged', () => {
    expect(respond(new HttpError(404, { code: 'unknown_route', message: 'no route for PUT /x' }))).toMatchObject({
      status: 404,
      body: { error: { code: 'unknown_route' } },
      logged: [],
    });
    expect(
      respond(new UnsupportedMediaTypeError('gzip', { field: 'content-encoding', rule: 'identity', headers: { 'accept-encoding': 'identity' } })),
    ).toMatchObject({
      status: 415,
      headers: { 'accept-encoding': 'identity' },
      body: { error: { code: 'unsupported_media_type', field: 'content-encoding', rule: 'identity' } },
    });
  });

  it('lists at most 20 issues and says how many there were', () => {
    const issues = Array.from({ length: 30 }, (_, i) => ({ field: `messages[${i}].type`, rule: 'unknown_type', message: 'unknown' }));
    const { body } = respond(new ValidationError(issues));
    expect(body.error.issues).toHaveLength(20);
    expect(body.error.message).toBe('messages[0].type: unknown (and 29 more)');
  });

  it('turns a ZodError from anywhere into 400 naming the path and rule', () => {
    const error = z.object({ a: z.array(z.number()) }).safeParse({ a: [1, 'x'] }).error!;
    expect(respond(error)).toMatchObject({ status: 400, body: { error: { field: 'a[1]', rule: 'invalid_type' } } });
  });

  it("keeps a middy client error's status and message", () => {
    expect(respond(createError(422, 'Unprocessable'))).toMatchObject({ status: 422, body: { error: { message: 'Unprocessable' } } });
  });

  it.each([
    ['Data API unavailable', new DataApiUnavailableError('503 from rds-data'), '1'],
    ['deadlock', new DeadlockError('Deadlock found when trying to get lock; UPDATE queue_messages …'), '1'],
    ['cluster resuming', new DatabaseResumingError('resuming'), '15'],
    ['any retryable queue error', new RetryableError('later'), '1'],
  ])('%s → 503 with Retry-After, without the cause', (_name, error, retryAfter) => {
    const response = respond(error);
    expect(response).toMatchObject({ status: 503, headers: { 'retry-after': retryAfter }, body: { error: { code: 'unavailable' } } });
    expect(JSON.stringify(response.body)).not.toMatch(/rds-data|UPDATE|resuming|later/);
    expect(response.logged.map((l) => l.level)).toEqual(['warn']);
  });

  it.each([
    ['a plain Error', new Error('boom at line 3')],
    ['a SQL error', new DatabaseError("You have an error in your SQL syntax near 'SELECT * FROM queue_messages'", { mysqlCode: 1064 })],
    ['a duplicate key the code did not expect', new DuplicateKeyError("Duplicate entry 'x' for key 'PRIMARY'")],
    ['a permanent queue error', new PermanentError('nope')],
    ['a thrown string', 'just a string'],
    ['a middy 5xx', createError(502, 'upstream said no')],
  ])('%s → 500 "internal error", logged, nothing of it shown', (_name, error) => {
    const response = respond(error);
    expect(response.status).toBe(500);
    expect(response.body).toEqual({ error: { code: 'internal', message: 'internal error' } });
    expect(response.logged).toEqual([{ level: 'error', fault: error }]);
  });
});
