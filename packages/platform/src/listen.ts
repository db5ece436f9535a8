import type { Server } from 'node:net';
import { ConfigError } from './config.js';

/**
 * Listens on host:port; a port already in use becomes an error naming the variable that moves it.
 * Returns the bound port (useful with port 0).
 */
export async function listenOrExplain(server: Server, port: number, host: string, envVar: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') reject(new ConfigError(`port ${port} on ${host} is already in use; set ${envVar} to another port`));
      else reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : port;
}
