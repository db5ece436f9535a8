import type { ServiceDeclaration } from '@albergue/messaging';
import { toMqttTopic } from '@albergue/events';
import type { AccountGrant } from '../domain/acl.js';
import { AccessControlList } from '../domain/acl.js';

/** The read-only account for humans and tools (MQTT Explorer, mosquitto_sub): sees every event, publishes nothing. */
export const OBSERVER_ACCOUNT = 'observer';

/**
 * The broker's ACL, derived from what the services declare: each service (MQTT username =
 * service name) publishes exactly the topics it declares, all in its own context, and subscribes
 * exactly to the topics of the events it declares (and to its wildcard filter, if it declares one); the observer subscribes to `albergue/#`.
 */
export function grantsFromDeclarations(declarations: readonly ServiceDeclaration[], options: { observer?: boolean } = {}): AccountGrant[] {
  const grants: AccountGrant[] = declarations.map((d) => {
    for (const p of d.publishes) {
      if (p.context !== d.context)
        throw new Error(`${d.service} declares ${p.topic}, which belongs to context ${p.context}, not ${d.context}`);
    }
    return {
      username: d.service,
      publish: d.publishes.map((p) => toMqttTopic(p.topic)),
      // A wildcard subscription (audit's `albergue/#`) is granted as its filter: the account subscribes once with it.
      subscribe: [...d.subscribes.map((s) => toMqttTopic(s.event.topic)), ...(d.subscribesAll ? [d.subscribesAll.filter] : [])],
    };
  });
  if (options.observer !== false) grants.push({ username: OBSERVER_ACCOUNT, publish: [], subscribe: ['albergue/#'] });
  return grants;
}

export function aclFromDeclarations(declarations: readonly ServiceDeclaration[], options: { observer?: boolean } = {}): AccessControlList {
  return new AccessControlList(grantsFromDeclarations(declarations, options));
}
