/**
 * The Generate page's routes and headers, in one place: `GET /`, `/app.js` and `/app.css`, served by the API
 * function itself, and deployed also at `/app/` on the CloudFront domain, where the API is at `/api/`
 * (serverless.yml maps the paths). Either way page and API share one origin: no CORS to configure, and the API URL
 * is the page's own. The content (content.ts) is loaded by the page's first request only: API cold starts do not
 * compile it.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Config } from '../../config.js';
import { lazily } from '../../lazy.js';
import type { HttpMiddleware, HttpRequest } from '../../middleware/types.js';

type Result = APIGatewayProxyStructuredResultV2;

/** The page's CSP: its own script and style, its API, images from the image origin; nothing else. */
const pageCsp = (imageOrigin: string): string =>
  [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    `img-src ${imageOrigin}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
  ].join('; ');

/**
 * The page's Permissions-Policy: every powerful feature off, naming only features browsers recognise. middy's
 * default list also names retired and proposed ones (battery, document-domain, web-share, ...), which Chromium
 * reports as 15 console errors on every load; its options merge into that list and cannot remove from it. JSON
 * answers are no documents and need none.
 */
const PAGE_PERMISSIONS_POLICY = [
  'accelerometer',
  'autoplay',
  'camera',
  'clipboard-read',
  'clipboard-write',
  'display-capture',
  'encrypted-media',
  'fullscreen',
  'gamepad',
  'geolocation',
  'gyroscope',
  'hid',
  'idle-detection',
  'keyboard-map',
  'magnetometer',
  'microphone',
  'midi',
  'payment',
  'picture-in-picture',
  'publickey-credentials-get',
  'screen-wake-lock',
  'serial',
  'sync-xhr',
  'usb',
  'xr-spatial-tracking',
]
  .map((feature) => `${feature}=()`)
  .join(', ');

/** The page's routes (for the one route table) and the middleware that gives their answers the page's headers. */
export function pageSurface(config: Pick<Config, 'imageModels' | 'imageModel' | 'publicBaseUrl'>): {
  routes: { method: 'GET'; path: string; handler: () => Promise<Result> }[];
  headers: HttpMiddleware;
} {
  const imageOrigin = new URL(config.publicBaseUrl).origin;
  const content = lazily(() =>
    import('./content.js').then((page) => ({
      html: page.pageHtml({ models: config.imageModels, defaultModel: config.imageModel, imageOrigin }),
      script: page.PAGE_SCRIPT,
      style: page.PAGE_STYLE,
    })),
  );
  const answer = (path: string, contentType: string, part: 'html' | 'script' | 'style') => ({
    method: 'GET' as const,
    path,
    handler: async (): Promise<Result> => ({
      statusCode: 200,
      headers: { 'content-type': contentType, 'cache-control': 'no-cache' },
      body: (await content())[part],
    }),
  });
  const routes = [
    answer('/', 'text/html; charset=utf-8', 'html'),
    answer('/app.js', 'text/javascript; charset=utf-8', 'script'),
    answer('/app.css', 'text/css; charset=utf-8', 'style'),
  ];
  const paths = new Set(routes.map((route) => route.path));
  const csp = pageCsp(imageOrigin);
  // Runs after the security headers (middy runs `after` in reverse order of `use`): the page needs to run its own
  // script and show images from the image origin, which the API's CSP (sandbox, nothing allowed) forbids.
  const headers: HttpMiddleware = {
    after: async (request: HttpRequest) => {
      const answered = request.response?.headers;
      if (answered && paths.has(request.event.requestContext?.http?.path ?? '') && request.response?.statusCode === 200) {
        answered['Content-Security-Policy'] = csp;
        // Images come from the image origin as plain <img> loads (no CORS needed, whatever origins CloudFront
        // allows); require-corp would block them, and the page needs no cross-origin isolation.
        answered['Cross-Origin-Embedder-Policy'] = 'unsafe-none';
        answered['Permissions-Policy'] = PAGE_PERMISSIONS_POLICY;
      }
    },
  };
  return { routes, headers };
}
