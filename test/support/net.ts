// Network helpers shared by the tests that start real servers (PgBouncer, Redis, PostgreSQL).
import { connect } from 'node:net';

/** Whether something accepts TCP connections on `host`:`port`. */
export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
