/** The bounded contexts that publish events (ARCHITECTURE §1). */
export const CONTEXTS = ['location', 'booking', 'payment', 'documents', 'notifications', 'audit', 'gateway'] as const;
export type Context = (typeof CONTEXTS)[number];

const TOPIC_RE = /^albergue\.([a-z][a-z0-9-]*)\.v([1-9][0-9]*)\.([A-Z][A-Za-z0-9]*)$/;

/** Logical topic, used in Redis keys and logs: `albergue.<context>.v<N>.<EventType>`. */
export function eventTopic(context: string, version: number, eventType: string): string {
  return `albergue.${context}.v${version}.${eventType}`;
}

/** MQTT form of a logical topic: dots become slashes so wildcards work (`albergue/booking/#`). */
export function toMqttTopic(logicalTopic: string): string {
  return logicalTopic.replaceAll('.', '/');
}

/** Logical form of an MQTT topic (`albergue/booking/v1/X` → `albergue.booking.v1.X`). */
export function fromMqttTopic(mqttTopic: string): string {
  return mqttTopic.replaceAll('/', '.');
}

export interface TopicParts {
  readonly context: string;
  readonly version: number;
  readonly eventType: string;
}

/** Splits a logical or MQTT topic into its parts; undefined when it is not an Albergue event topic. */
export function parseTopic(topic: string): TopicParts | undefined {
  const m = TOPIC_RE.exec(fromMqttTopic(topic));
  if (!m) return undefined;
  return { context: m[1]!, version: Number(m[2]), eventType: m[3]! };
}
