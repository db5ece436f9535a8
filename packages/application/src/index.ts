// @albergue/application: the application kit every service builds on (see docs/architecture.md,
// "Layout of a service"). HTTP schema helpers are in `@albergue/application/http`.
export * from './ports.js';
export * from './results.js';
export * from './save-decision.js';
export * from './local-date.js';
export * from './decision-log.js';
