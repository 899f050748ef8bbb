import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { compression, defineAlgorithm } from 'vite-plugin-compression2';

// The server serves dist/ at `/`; hashed files under assets/ are cached for good.
// Each text file also gets .br and .gz siblings, sent as they are to browsers that accept them.
export default defineConfig({
  plugins: [
    react(),
    compression({
      include: /\.(js|css|html|svg|json)$/,
      threshold: 1024,
      skipIfLargerOrEqual: true,
      algorithms: [defineAlgorithm('brotliCompress'), defineAlgorithm('gzip', { level: 9 })],
    }),
  ],
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, assetsDir: 'assets', chunkSizeWarningLimit: 1200 },
  server: { proxy: { '/api': 'http://127.0.0.1:8314' } },
});
