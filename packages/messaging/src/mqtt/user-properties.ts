import type { IClientPublishOptions } from 'mqtt';

const QOS1: IClientPublishOptions = { qos: 1 };
const CORRELATION = /"correlation_id":"([0-9a-fA-F-]{36})"/;
const CAUSATION = /"causation_id":"([^"\\]{1,200})"/;
const PAYLOAD = '"payload":';

/**
 * MQTT 5 publish options for an envelope: QoS 1 plus the user properties `correlation_id` and
 * `causation_id`, so brokers, bridges and tools can trace a flow without parsing bodies. The envelope
 * stays the source of truth (consumers read it, never these). Read from the JSON text without parsing
 * it; only ids that come before `"payload":` are the envelope's own (a payload may contain the same
 * keys): otherwise, or for a body that is not an envelope, plain QoS 1 without properties.
 */
export function traceProperties(body: string | Buffer): IClientPublishOptions {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const end = text.indexOf(PAYLOAD);
  const head = end < 0 ? text : text.slice(0, end);
  const correlation = CORRELATION.exec(head)?.[1];
  const causation = CAUSATION.exec(head)?.[1];
  if (correlation === undefined || causation === undefined) return QOS1;
  return { qos: 1, properties: { userProperties: { correlation_id: correlation, causation_id: causation } } };
}
