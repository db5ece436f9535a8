// start:services refuses ports it cannot have before starting anything, naming the variable to set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { ConfigError } from '@albergue/platform';
import { freePort } from '@albergue/platform/testing';
import { assertPortsFree } from './ports-free.js';

test('a port in use, given twice or 0 is a ConfigError naming each variable; free ports pass', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const taken = (blocker.address() as { port: number }).port;
  try {
    const free = await freePort();
    await assertPortsFree([{ variable: 'BOOKING_PORT', host: '127.0.0.1', port: free }]);
    await assert.rejects(
      assertPortsFree([
        { variable: 'BOOKING_PORT', host: '127.0.0.1', port: taken },
        { variable: 'PAYMENT_PORT', host: '127.0.0.1', port: free },
        { variable: 'AUDIT_PORT', host: '127.0.0.1', port: free },
        { variable: 'GATEWAY_PORT', host: '127.0.0.1', port: 0 },
      ]),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, new RegExp(`port ${taken} on 127\\.0\\.0\\.1 \\(BOOKING_PORT\\) is already in use.*set BOOKING_PORT`));
        assert.match(err.message, new RegExp(`PAYMENT_PORT and AUDIT_PORT are all ${free}`));
        assert.match(err.message, /GATEWAY_PORT=0.*set GATEWAY_PORT/);
        assert.doesNotMatch(err.message, /\(PAYMENT_PORT\) is already in use/, 'a port given twice is not taken by its own check');
        return true;
      },
    );
    // Checked and released: the port is free again.
    await assertPortsFree([{ variable: 'BOOKING_PORT', host: '127.0.0.1', port: free }]);
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});
