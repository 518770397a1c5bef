import { defineConfig } from 'astro/config';
import node from '@astrojs/node';

// Hearth's own server (src/server.ts) wraps the adapter's handler in middleware mode (it renders
// pages only) and answers the built static files itself, from a list made at start: the
// standalone handler asked the disk for every request before rendering it.
export default defineConfig({
  output: 'server',
  // No limit here: Hearth's server (src/server.ts) bounds every body by its route (src/web/body-limits.ts).
  adapter: node({ mode: 'middleware', bodySizeLimit: 0 }),
  // Origin checks are done by src/middleware.ts: it knows which routes are meant to be
  // posted to from other origins (signed webhooks, bearer-token API calls).
  security: { checkOrigin: false },
  devToolbar: { enabled: false },
  vite: {
    build: { assetsInlineLimit: 0 },
  },
});
