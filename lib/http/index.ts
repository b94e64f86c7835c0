/** The HTTP layer's public face: middlewares, errors and responses shared by the handlers. */
export { httpErrorHandler, responseForError, type ErrorLogger } from './errorHandler.js';
export { HttpError, PayloadTooLargeError, refusalResponse, UnsupportedMediaTypeError, type ErrorBody } from './errors.js';
export { checkJsonContentType, header, jsonBody, parseJsonBody, type JsonBodyOptions } from './jsonBody.js';
export { accepted, jsonResponse, ok, type HttpResponse } from './responses.js';
export { validInput, zodValidator, type InputSchemas, type ValidInput } from './validator.js';
export { findRoute, matchRoute, routes, type FoundRoute, type RouteHandler } from './router.js';
