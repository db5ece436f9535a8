/**
 * Redis keys and channels the broker service owns (logical topics, ARCHITECTURE §3), defined once:
 * the adapters build them with `keys`, the catalog (docs/CATALOG.md) lists `BROKER_REDIS_KEYS`. The
 * ledger, DLQ and breaker keys (`mqtt:processed:*`, `mqtt:dlq:*`, `cb:*`) belong to
 * @albergue/messaging (`LEDGER_REDIS_KEYS`); aedes-persistence-redis adds its own unprefixed keys
 * (`client:*`, `retained:*`, `outgoing:*`, ...).
 */
export const BROKER_REDIS_KEYS = {
  message: {
    pattern: 'mqtt:message:<event_id>',
    type: 'HASH',
    holds: 'an envelope published over HTTP, under its event_id (topic, body, state, claimed_at)',
  },
  channel: { pattern: 'mqtt:channel:<topic>', type: 'channel', holds: 'pub/sub announcement of each envelope published over HTTP' },
  httpSubscriptions: {
    pattern: 'mqtt:http-subscriptions',
    type: 'HASH',
    holds: "HTTP consumers' durable subscriptions, `<subscriber>\\u0000<filter>` → JSON",
  },
} as const;

export const keys = {
  message: (eventId: string) => BROKER_REDIS_KEYS.message.pattern.replace('<event_id>', eventId),
  channel: (topic: string) => BROKER_REDIS_KEYS.channel.pattern.replace('<topic>', topic),
  httpSubscriptions: BROKER_REDIS_KEYS.httpSubscriptions.pattern,
} as const;
