import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { errorBody } from '../http/error-handler.ts';
import type { FeatureDeps } from '../http/feature-deps.ts';

/** Paths that belong to the API and probes: never answered with the dashboard's index.html. */
const reserved = /^\/(api|v1)(\/|$)|^\/(metrics|healthz|readyz)(\/|$)/;

const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Flotilla</title></head>
<body><h1>The Flotilla dashboard is not built</h1>
<p>The API works; only the web dashboard's files are missing. In a clone of the repository, build them with</p>
<pre>npm run build -w @flotilla/dashboard</pre>
<p>and restart the server (<code>npm start</code> does this by itself). The API reference is at <a href="/api/docs">/api/docs</a>.</p>
</body></html>
`;

/** The built dashboard's directory, found through the package; null when it is not installed. */
export function dashboardDist(): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('@flotilla/dashboard/package.json');
    return join(dirname(pkg), 'dist');
  } catch {
    return null;
  }
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply.headers({
    'content-security-policy': contentSecurityPolicy,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
  });
}

export async function dashboardRoutes(app: FastifyInstance, _deps: FeatureDeps): Promise<void> {
  await serveDashboard(app, dashboardDist());
}

/** Serves the dashboard at `/`: hashed assets cached for good, index.html for every client route. */
export async function serveDashboard(app: FastifyInstance, dist: string | null): Promise<void> {
  const built = dist !== null && existsSync(join(dist, 'index.html'));
  // The build leaves .br/.gz siblings of each text file: sent as they are, by the request's Accept-Encoding.
  if (built) await app.register(fastifyStatic, { root: dist, serve: false, cacheControl: false, preCompressed: true });
  const root = built ? resolve(dist) : '';

  app.get('/*', { schema: { hide: true }, compress: false }, async (request, reply) => {
    const path = safeDecode(request.url.split('?')[0] ?? '/');
    if (reserved.test(path)) {
      return reply.status(404).send(errorBody('not_found', `no route ${request.method} ${path}`));
    }
    securityHeaders(reply);
    if (!built)
      return reply.status(503).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(notBuiltPage);
    const file = resolve(root, `.${path}`);
    const inside = file.startsWith(root + sep);
    if (inside && path !== '/index.html' && isFile(file)) {
      const immutable = path.startsWith('/assets/');
      reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      return reply.sendFile(file.slice(root.length + 1));
    }
    // A missing hashed asset is a 404: answering with HTML would hand the browser a page as a script.
    if (path.startsWith('/assets/')) return reply.status(404).send(errorBody('not_found', `no file ${path}`));
    reply.header('cache-control', 'no-cache');
    return reply.sendFile('index.html');
  });
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
