export { startBroker } from './start.js';
export type { BrokerOptions, LedgerBundle, RunningBroker } from './start.js';
export { brokerOptionsFromEnv } from './config/env.js';
export { loadCredentials, devPassword, passwordVar, DEV_ADMIN_TOKEN } from './config/credentials.js';
export { runBrokerProcess } from './run.js';
export { runMosquittoConfigCli } from './mosquitto/cli.js';
export { aclFromDeclarations, grantsFromDeclarations, OBSERVER_ACCOUNT } from './application/acl-from-declarations.js';
export { AccessControlList } from './domain/acl.js';
export type { AccountGrant } from './domain/acl.js';
