// The Aedes broker of the scale bench in its own process (a child of bench/scale.ts), so that its CPU
// time is measured apart, as Mosquitto's is: Aedes 1.2.0 as the project's tests run it (memory
// persistence, MQTT 3.1.1). It sends its URL over the IPC channel and stops when the channel closes.
import { startAedes } from '@albergue/messaging/testing';

export async function runAedes(): Promise<void> {
  const broker = await startAedes();
  process.send?.({ url: broker.url });
  process.on('disconnect', () => void broker.close().finally(() => process.exit(0)));
}
