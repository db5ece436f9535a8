/**
 * Largest MQTT packet the broker (and the generated Mosquitto configuration) accepts by default:
 * parseEnvelope's 256 KiB envelope limit plus 1 KiB for the topic and headers. BROKER_MAX_PACKET_SIZE
 * changes it.
 */
export const DEFAULT_MAX_PACKET_SIZE = 256 * 1024 + 1024;
