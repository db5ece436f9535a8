import { AlbergueCapacityChanged, AlbergueRegistered } from '@albergue/events';
import { declareService } from '@albergue/messaging';

/** What location publishes and subscribes to: the runtime, the broker's ACL and the catalog read it. */
export const locationDeclaration = declareService({
  service: 'location',
  context: 'location',
  publishes: [AlbergueRegistered, AlbergueCapacityChanged],
  subscribes: [],
});
