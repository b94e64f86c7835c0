import { expect, it } from 'vitest';
import { findRoute, matchRoute, routes } from '../../lib/http/router.js';
import { jsonResponse } from '../../lib/http/responses.js';
import { httpEvent, lambdaContext } from './fixtures.js';

const keys = ['GET /queues/{queue}/dead', 'DELETE /queues/{queue}/dead', 'POST /queues/{queue}/redrive'] as const;

it('matches on routeKey, else on method and the end of the path', () => {
  expect(matchRoute(httpEvent({ method: 'DELETE', path: '/x', routeKey: 'DELETE /queues/{queue}/dead' }), keys)).toBe('DELETE /queues/{queue}/dead');
  expect(matchRoute(httpEvent({ method: 'POST', path: '/prod/queues/a.b/redrive', routeKey: '$default' }), keys)).toBe('POST /queues/{queue}/redrive');
  expect(matchRoute(httpEvent({ method: 'GET', path: '/queues/a/dead/', routeKey: '$default' }), keys)).toBe('GET /queues/{queue}/dead');
  expect(matchRoute(httpEvent({ method: 'POST', path: '/queues/a/dead', routeKey: '$default' }), keys)).toBeUndefined();
  expect(matchRoute(httpEvent({ method: 'GET', path: '/queues/a/b/dead', routeKey: '$default' }), keys)).toBeUndefined();
});

it('finds a route with its path parameters, or the methods its path has', () => {
  expect(findRoute(keys, 'GET', '/queues/a%2Fb/dead')).toEqual({ route: { key: 'GET /queues/{queue}/dead', params: { queue: 'a%2Fb' } }, methods: ['GET'] });
  expect(findRoute(keys, 'PUT', '/queues/a/dead')).toEqual({ methods: ['GET', 'DELETE'] });
  expect(findRoute(keys, 'GET', '/nope')).toEqual({ methods: [] });
  // Anchored at the start unless a stage prefix is allowed.
  expect(findRoute(keys, 'POST', '/prod/queues/a/redrive')).toEqual({ methods: [] });
  expect(findRoute(keys, 'POST', '/prod/queues/a/redrive', { stagePrefix: true }).route?.params).toEqual({ queue: 'a' });
});

it('dispatches to the matching handler, 404 otherwise', async () => {
  const handler = routes({ 'GET /a/{x}': async () => jsonResponse(200, { hit: 'a' }) });
  expect((await handler(httpEvent({ method: 'GET', path: '/a/1', routeKey: '$default' }), lambdaContext)).statusCode).toBe(200);
  expect((await handler(httpEvent({ method: 'GET', path: '/b/1', routeKey: '$default' }), lambdaContext)).statusCode).toBe(404);
});
