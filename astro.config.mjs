import { defineConfig } from 'astro/config';
import node from '@astrojs/node';

// Hearth's own server (src/server.ts) wraps the adapter's handler, so the standalone
// server never starts on its own (ASTRO_NODE_AUTOSTART=disabled is set before import).
export default defineConfig({
  output: 'server',
  // 256 MiB: room for a member import's CSV upload; small forms cap what they read themselves.
  adapter: node({ mode: 'standalone', bodySizeLimit: 256 * 1024 * 1024 }),
  // Origin checks are done by src/middleware.ts: it knows which routes are meant to be
  // posted to from other origins (signed webhooks, bearer-token API calls).
  security: { checkOrigin: false },
  devToolbar: { enabled: false },
  vite: {
    build: { assetsInlineLimit: 0 },
  },
});
