import type { Upcaster } from './registry.js';

/**
 * Upcasters for every event that has more than one version: each turns version N into N+1.
 * None yet: every published event is at v1. A v2 adds its definition next to v1 and an entry here.
 */
export const UPCASTERS: readonly Upcaster[] = [];
