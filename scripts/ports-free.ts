// Before `start:services` starts anything: every port it will use must be free and given once. A
// port already taken (a developer's system, another test's) is refused up front, naming the variable
// to set; otherwise a health check could be answered by someone else's service on that port.
import { createServer } from 'node:net';
import { ConfigError } from '@albergue/platform';

export interface PortUse {
  /** The variable that moves it, e.g. BOOKING_PORT. */
  readonly variable: string;
  readonly host: string;
  readonly port: number;
}

/** Whether host:port can be bound now (it is released again at once). */
function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Throws a ConfigError listing every port that is 0, given twice or taken, each with its variable.
 * (Checked, then released: a port taken in the moment between is still reported by the process that
 * fails to listen, with the same variable.)
 */
export async function assertPortsFree(uses: readonly PortUse[]): Promise<void> {
  const problems: string[] = [];
  const byPort = new Map<number, string[]>();
  for (const u of uses) {
    if (u.port === 0) problems.push(`${u.variable}=0: start:services needs a fixed port to check health; set ${u.variable} to a free port`);
    else byPort.set(u.port, [...(byPort.get(u.port) ?? []), u.variable]);
  }
  for (const [port, variables] of byPort)
    if (variables.length > 1) problems.push(`${variables.join(' and ')} are all ${port}; give each its own port`);
  // One after another: a port given twice must not look taken by its own check.
  for (const u of uses)
    if (u.port !== 0 && !(await canBind(u.host, u.port)))
      problems.push(
        `port ${u.port} on ${u.host} (${u.variable}) is already in use, maybe by another system; set ${u.variable} to a free port`,
      );
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
}
