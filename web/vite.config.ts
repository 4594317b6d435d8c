import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The app is served by `ucr serve` under /app/ (see docs/operations.md); every asset URL is
// relative to that base so the same build works behind any host name.
export default defineConfig({
  base: '/app/',
  resolve: {
    // The design system's icons, referenced from its Sass, are bundled from the installed package.
    alias: {
      '@nhsuk-assets': fileURLToPath(new URL('./node_modules/nhsuk-frontend/dist/nhsuk/assets', import.meta.url)),
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  css: {
    preprocessorOptions: {
      scss: {
        // nhsuk-frontend's own Sass modules warn about future Sass changes; they are not ours to fix.
        quietDeps: true,
      },
    },
  },
  test: {
    include: ['tests/unit/**/*.test.ts'],
    environment: 'node',
  },
});
