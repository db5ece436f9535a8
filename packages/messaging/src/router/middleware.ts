import type { Registry } from 'prom-client';
import { messagingMetrics } from '../metrics.js';
import { DeadlineQueue } from '../deadlines.js';
import type { HandlerContext } from './context.js';

/** A handler after the router resolved its types: runs once per delivery. */
export type Next = (ctx: HandlerContext) => Promise<void>;
/** Cross-cutting behaviour around a handler. Throwing fails the delivery (nack); returning succeeds it (ack). */
export type Middleware = (next: Next) => Next;

/** Chains middleware outermost first: compose([a, b])(h) = a(b(h)). */
export function compose(middleware: readonly Middleware[], handler: Next): Next {
  return middleware.reduceRight<Next>((next, mw) => mw(next), handler);
}

/** Failures at warn, with duration and attempt. Successes are counted by metrics, not logged (thousands per second). */
export const logging: Middleware = (next) => async (ctx) => {
  const started = performance.now();
  try {
    await next(ctx);
  } catch (err) {
    ctx.log.warn({ err, duration_ms: Math.round(performance.now() - started), max_attempts: ctx.maxAttempts }, 'handler failed');
    throw err;
  }
};

/** Handler duration histogram, by outcome. (Counters are kept by the router, which knows the ledger outcome.) */
export function metrics(registry: Registry): Middleware {
  const { handlerSeconds } = messagingMetrics(registry);
  return (next) => async (ctx) => {
    const end = handlerSeconds.startTimer({ service: ctx.service, subscriber: ctx.subscriber, topic: ctx.topic });
    try {
      await next(ctx);
      end({ outcome: 'success' });
    } catch (err) {
      end({ outcome: 'failure' });
      throw err;
    }
  };
}

export class HandlerTimeoutError extends Error {
  constructor(
    readonly handler: string,
    readonly timeoutMs: number,
  ) {
    super(`handler ${handler} exceeded its ${timeoutMs} ms budget`);
    this.name = 'HandlerTimeoutError';
  }
}

/**
 * Fails a handler that runs longer than `ms` and aborts `ctx.signal` so it can stop its work.
 * Keep it below the visibility timeout: past that, another instance may lease the same message.
 *
 * One timer per middleware instance, not one per message: every handler of this middleware gets the
 * same budget, so deadlines expire in the order handlers started and a FIFO with a single timer
 * armed for the oldest live deadline is enough (thousands of handlers per second would otherwise
 * create and clear thousands of timers and race promises).
 */
export function timeout(ms: number, onTimeout?: (ctx: HandlerContext) => void): Middleware {
  const deadlines = new DeadlineQueue(ms);
  return (next) => (ctx) =>
    new Promise<void>((resolve, reject) => {
      const entry = deadlines.add(() => {
        onTimeout?.(ctx);
        reject(new HandlerTimeoutError(ctx.handler, ms));
      });
      let result: Promise<void>;
      try {
        result = next(ctx);
      } catch (err) {
        deadlines.settle(entry);
        // The handler's own failure, passed on unchanged (the router reports whatever it threw).
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(err);
        return;
      }
      result.then(
        () => {
          deadlines.settle(entry);
          resolve();
        },
        (err: unknown) => {
          deadlines.settle(entry);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
          reject(err);
        },
      );
    });
}
