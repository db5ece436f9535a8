export { startBroker } from './start';
export type { BrokerOptions, LedgerBundle, RunningBroker } from './start';
export { brokerOptionsFromEnv } from './config/env';
export { loadCredentials, devPassword, passwordVar, DEV_ADMIN_TOKEN } from './config/credentials';
export { runBrokerProcess } from './run';
export { runMosquittoConfigCli } from './mosquitto/cli';
export { aclFromDeclarations, grantsFromDeclarations, OBSERVER_ACCOUNT } from './application/acl-from-declarations';
export { AccessControlList } from './domain/acl';
export type { AccountGrant } from './domain/acl';
