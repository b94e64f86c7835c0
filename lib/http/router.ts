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
  const method = event.requestContext?.http?.method?.toUpperCase() ?? '';
  return findRoute(routeKeys, method, event.rawPath ?? '', { stagePrefix: true }).route?.key;
}

export interface FoundRoute<K extends string> {
  /** The route the method and path are for, with the path's `{param}` segments (still percent-encoded). */
  route?: { key: K; params: Record<string, string> };
  /** The methods of the routes whose path matched: when `route` is undefined, non-empty means 405. */
  methods: string[];
}

/**
 * Which of `routeKeys` ("METHOD /path/{param}") a method and path are for; a `{param}` is one path
 * segment and a trailing slash is allowed. With `stagePrefix`, the path may start with more
 * segments (API Gateway's stage).
 */
export function findRoute<K extends string>(routeKeys: readonly K[], method: string, path: string, options: { stagePrefix?: boolean } = {}): FoundRoute<K> {
  const methods: string[] = [];
  for (const key of routeKeys) {
    const [keyMethod = '', template = ''] = key.split(' ');
    const match = templatePattern(template, options.stagePrefix ?? false).exec(path);
    if (match === null) continue;
    if (keyMethod === method) return { route: { key, params: { ...match.groups } }, methods: [keyMethod] };
    methods.push(keyMethod);
  }
  return { methods };
}

function templatePattern(template: string, stagePrefix: boolean): RegExp {
  const escaped = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, '(?<$1>[^/]+)');
  return new RegExp(`${stagePrefix ? '' : '^'}${escaped}/?$`);
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
