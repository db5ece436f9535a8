import { strict as assert } from 'node:assert';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { ConfigError } from './config.js';
import { listenOrExplain } from './listen.js';

test('a port already taken is an error naming the variable that moves it', async () => {
  const first = createServer();
  const port = await listenOrExplain(first, 0, '127.0.0.1', 'FIRST_PORT');
  assert.ok(port > 0);
  const second = createServer();
  try {
    await assert.rejects(
      listenOrExplain(second, port, '127.0.0.1', 'BOOKING_PORT'),
      (err: Error) =>
        err instanceof ConfigError && err.message === `port ${port} on 127.0.0.1 is already in use; set BOOKING_PORT to another port`,
    );
    assert.equal(second.listening, false);
  } finally {
    await new Promise<void>((r) => first.close(() => r()));
  }
});
