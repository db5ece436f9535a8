/** A durable subscription of an HTTP consumer (a subscriber that is not an MQTT client). */
export interface HttpSubscription {
  /** Consumer group name: `[a-z0-9][a-z0-9_.-]*`, at most 64 characters. */
  readonly subscriber: string;
  /** MQTT topic filter (`albergue/booking/#`). */
  readonly filter: string;
  readonly maxAttempts: number;
  readonly visibilityTimeoutMs: number;
  /** First retry delay after a nack; grows ×2 up to maxRetryDelayMs. */
  readonly retryDelayMs: number;
  readonly maxRetryDelayMs: number;
  /** ISO-8601 time of the first registration. */
  readonly createdAt: string;
}

/**
 * `mqtt:http-subscriptions`: the registered HTTP subscriptions, shared by every broker instance and
 * reloaded at start, so a registration outlives restarts.
 */
export interface HttpSubscriptionRegistry {
  /** Creates or replaces the subscription (key: subscriber + filter). */
  save(subscription: HttpSubscription): Promise<void>;
  list(): Promise<HttpSubscription[]>;
  remove(subscriber: string, filter: string): Promise<boolean>;
}
