import { rateLimiterContract } from '../../application/rate-limiter.contract.js';
import { MemoryRateLimiter } from './memory-rate-limiter.js';

// One process: the "other instance" is the same limiter (the embedded mode runs one gateway).
rateLimiterContract('memory', () => {
  const limiter = new MemoryRateLimiter();
  return Promise.resolve({ limiter, other: limiter });
});
