import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from '../dashboard/page.js';

/** The charting library (uPlot, MIT), served from node_modules with the page: no CDN. */
const require = createRequire(import.meta.url);
const UPLOT_JS = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
const UPLOT_CSS = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

function asset(reply: FastifyReply, type: string, body: string) {
  return reply
    .header('content-type', type)
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-cache')
    .send(body);
}

/**
 * `GET /admin/`: the dashboard page and its script and style. They hold no data, so they need no
 * token; everything they show comes from the token-protected admin API.
 */
export async function dashboardRoutes(app: FastifyInstance) {
  app.get('/admin', {}, async (_request, reply) => reply.redirect('/admin/', 308));
  app.get('/admin/', {}, async (_request, reply) => asset(reply, 'text/html; charset=utf-8', DASHBOARD_HTML));
  app.get('/admin/dashboard.js', {}, async (_request, reply) => asset(reply, 'text/javascript; charset=utf-8', DASHBOARD_JS));
  app.get('/favicon.ico', {}, async (_request, reply) => reply.code(204).header('cache-control', 'max-age=86400').send());
  app.get('/admin/dashboard.css', {}, async (_request, reply) => asset(reply, 'text/css; charset=utf-8', DASHBOARD_CSS));
  app.get('/admin/vendor/uPlot.iife.min.js', {}, async (_request, reply) => asset(reply, 'text/javascript; charset=utf-8', UPLOT_JS));
  app.get('/admin/vendor/uPlot.min.css', {}, async (_request, reply) => asset(reply, 'text/css; charset=utf-8', UPLOT_CSS));
}
