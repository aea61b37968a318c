// The admin console's build (`npm run build` → dist/admin, served by the API at /admin) and
// dev server (`npm run dev`: hot reload at http://localhost:5173/admin/, API calls proxied
// to the local API, so the page and its calls share one origin as in production).
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const api = process.env.API_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/admin/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../../dist/admin', import.meta.url)),
    emptyOutDir: true,
    // No inline scripts or styles (the CSP forbids them): every asset is a hashed file.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1500,
  },
  server: { port: 5173, strictPort: true, proxy: { '/trpc': api, '/auth/session': api } },
});
