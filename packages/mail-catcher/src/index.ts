export * from './catcher.js';
