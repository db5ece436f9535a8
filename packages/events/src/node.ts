// @albergue/events/node: what tooling and tests need besides the pure entry — the committed JSON
// Schema files (node:fs), the compatibility check that guards them, and one sample payload per event.
export * from './compat.js';
export * from './schema-files.js';
export * from './samples.js';
