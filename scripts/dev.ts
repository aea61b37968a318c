// `npm run dev`: the API (restarting on change) and the admin console's Vite dev server
// (hot reload) at http://localhost:5173/admin/, which proxies /trpc and /auth/session to the API.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createServer } from 'vite';

const api = spawn(process.execPath, ['--import', 'tsx', '--watch', 'server/index.ts'], { stdio: 'inherit' });
const vite = await createServer({
  configFile: fileURLToPath(new URL('../web/admin/vite.config.ts', import.meta.url)),
});
await vite.listen();
vite.printUrls();

const stop = async () => {
  api.kill('SIGTERM');
  await vite.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
api.on('exit', (code) => {
  if (code !== null && code !== 0) void vite.close().then(() => process.exit(code));
});
