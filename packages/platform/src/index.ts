export * from './config';
export * from './listen';
export * from './logger';
export * from './metrics';
export * from './problem';
