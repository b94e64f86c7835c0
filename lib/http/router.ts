import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { jsonResponse, type HttpResponse } from './responses.js';

export type RouteHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<HttpResponse>;

/**
 * Which of `routeKeys` ("METHOD /path/{param}") an event is for. API Gateway names it in
 * `routeKey`; otherwise (a hand-made event) the method and the end of `rawPath` decide, so a
 * stage prefix in the path does not matter.
 */
export function matchRoute<K extends string>(event: APIGatewayProxyEventV2, routeKeys: readonly K[]): K | undefined {
  const named = routeKeys.find((key) => key === event.routeKey);
  if (named !== undefined) return named;
  const method = event.requestContext?.http?.method?.toUpperCase();
  const path = event.rawPath ?? '';
  return routeKeys.find((key) => {
    const [keyMethod, template = ''] = key.split(' ');
    const pattern = new RegExp(`${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}/?$`);
    return keyMethod === method && pattern.test(path);
  });
}

/** One Lambda serving several routes, each with its own middy chain. */
export function routes<K extends string>(handlers: Record<K, RouteHandler>): RouteHandler {
  const keys = Object.keys(handlers) as K[];
  return async (event, context) => {
    const key = matchRoute(event, keys);
    if (key === undefined)
      return jsonResponse(404, { error: { code: 'unknown_route', message: `no route for ${event.requestContext?.http?.method} ${event.rawPath}` } });
    return handlers[key](event, context);
  };
}
