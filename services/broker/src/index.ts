export { startBroker } from './start';
export type { BrokerOptions, LedgerBundle, RunningBroker } from './start';
export { brokerOptionsFromEnv } from './config/env';
export { loadCredentials, devPassword, passwordVar, DEV_ADMIN_TOKEN } from './config/credentials';
export { DECLARED_SERVICES } from './config/declared-services';
export { aclFromDeclarations, grantsFromDeclarations, OBSERVER_ACCOUNT } from './application/acl-from-declarations';
export { AccessControlList } from './domain/acl';
export type { AccountGrant } from './domain/acl';
