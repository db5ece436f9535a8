import { RateLimitExceeded } from '@albergue/events';
import { declareService } from '@albergue/messaging';

/** What the gateway publishes (its MQTT account and ACL come from this): a signal, no subscriptions. */
export const gatewayDeclaration = declareService({
  service: 'gateway',
  context: 'gateway',
  publishes: [RateLimitExceeded],
  subscribes: [],
});
