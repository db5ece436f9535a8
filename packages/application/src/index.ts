// @albergue/application: the application kit every service builds on (see docs/architecture.md,
// "Layout of a service"). HTTP schema helpers are in `@albergue/application/http`.
export * from './ports';
export * from './results';
export * from './save-decision';
export * from './local-date';
export * from './decision-log';
