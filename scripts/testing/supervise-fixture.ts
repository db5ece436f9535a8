// Test fixture for scripts/supervisor.test.ts: a supervisor process like `start:services`, with two
// tiny children instead of the services. Prints the children's pids as one JSON line once started.
import { Supervisor, stopOnSignals } from '../supervisor.js';

const idle = ['-e', 'setInterval(() => {}, 1000)'];
const supervisor = new Supervisor({ initialBackoffMs: 200, log: (m) => console.log(`LOG ${m}`) });
stopOnSignals(supervisor);
supervisor.start({ name: 'one', command: process.execPath, args: idle });
supervisor.start({ name: 'two', command: process.execPath, args: idle });
console.log(`PIDS ${JSON.stringify(supervisor.pids())}`);
