export * from './config.js';
export * from './listen.js';
export * from './logger.js';
export * from './metrics.js';
export * from './problem.js';
