import { Registry, collectDefaultMetrics } from 'prom-client';

/** One Prometheus registry per process (or per embedded service), labelled with the service. */
export function createMetricsRegistry(service: string, options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}

export { Registry };
