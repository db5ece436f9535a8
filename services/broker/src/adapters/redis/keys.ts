/**
 * Redis keys and channels the broker service owns (logical topics, ARCHITECTURE §3). The ledger,
 * DLQ and breaker keys (`mqtt:processed:*`, `mqtt:dlq:*`, `cb:*`) belong to @albergue/messaging;
 * aedes-persistence-redis adds its own unprefixed keys (`client:*`, `retained:*`, `outgoing:*`, ...).
 */
export const keys = {
  /** Hash: an envelope published over HTTP, under its event_id (topic, body, state, claimed_at). */
  message: (eventId: string) => `mqtt:message:${eventId}`,
  /** Pub/sub channel announcing each envelope published over HTTP. */
  channel: (topic: string) => `mqtt:channel:${topic}`,
  /** Hash: HTTP consumers' durable subscriptions, `<subscriber>\u0000<filter>` → JSON. */
  httpSubscriptions: 'mqtt:http-subscriptions',
} as const;
