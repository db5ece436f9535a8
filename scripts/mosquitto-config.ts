// `npm run broker:mosquitto-config -- --out <dir> …`: Mosquitto's passwd, acl and mosquitto.conf for
// the services this system runs (scripts/declarations.ts). Options: services/broker/README.md.
import { runMosquittoConfigCli } from '@albergue/broker';
import { SYSTEM_DECLARATIONS } from './declarations.js';

await runMosquittoConfigCli(SYSTEM_DECLARATIONS);
