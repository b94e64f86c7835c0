// Placeholder so serverless.yml can be packaged while this handler is being written.
export const handler = async () => ({ statusCode: 501, body: JSON.stringify({ error: 'not implemented' }) });
