// The OpenAPI document of a mesh node's API port (GET /api/v1/openapi.json), written out by hand: the
// node carries no schema library, and the API is three routes.

const errorBody = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
};

const sample = {
  type: 'object',
  required: ['from', 'to', 'type', 'value', 'ts'],
  properties: {
    from: { type: 'string', description: 'the node that measured' },
    to: { type: 'string', description: 'the node measured' },
    type: {
      type: 'string',
      enum: ['rtt_total', 'rtt_request', 'dns', 'connect', 'tls', 'request'],
      description:
        'rtt_total: a new connection and one request (as canary-bot); rtt_request: one request on a kept-alive connection; the rest: one phase each',
    },
    value: {
      type: 'string',
      description: 'median of the minute in nanoseconds, as a decimal string; "NaN" when every probe failed',
    },
    ts: { type: 'string', format: 'date-time', description: 'end of the minute the value summarises' },
    count: { type: 'integer', description: 'probes in the minute' },
    failed: { type: 'integer', description: 'failed probes in the minute' },
    p99: { type: 'string', description: '99th percentile of the minute in nanoseconds' },
  },
};

const unauthorized = {
  description: 'no token, or not one of the node’s tokens',
  content: { 'application/json': { schema: errorBody } },
};

export function meshOpenApi(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Flotilla mesh node API',
      version: '1',
      description: 'canary-bot compatible: every node serves the samples of every node it has heard from.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      '/api/v1/samples': {
        get: {
          summary: 'Every sample this node knows, from every node',
          responses: {
            200: {
              description: 'the samples; `truncated` is true when the answer was cut at 100,000',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['samples'],
                    properties: { samples: { type: 'array', items: sample }, truncated: { type: 'boolean' } },
                  },
                },
              },
            },
            401: unauthorized,
          },
        },
      },
      '/api/v1/nodes': {
        get: {
          summary: 'The nodes of the mesh this node sees as alive or suspect, its own name first',
          responses: {
            200: {
              description: 'the node names',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['nodes'],
                    properties: { nodes: { type: 'array', items: { type: 'string' } } },
                  },
                },
              },
            },
            401: unauthorized,
          },
        },
      },
      '/metrics': {
        get: {
          summary:
            'Prometheus metrics: node_count, rtt{type,to}, mesh_event_loop_lag_seconds, mesh_messages_dropped_total',
          responses: {
            200: { description: 'Prometheus text format', content: { 'text/plain': {} } },
            401: unauthorized,
          },
        },
      },
      '/api/v1/openapi.json': {
        get: { summary: 'This document', security: [], responses: { 200: { description: 'OpenAPI 3.1' } } },
      },
    },
  };
}
