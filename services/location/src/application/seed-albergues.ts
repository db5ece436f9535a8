import type { AlbergueSeed } from '../domain/seed.js';
import { CAMINO_FRANCES_SEED } from '../domain/seed.js';
import type { RegisterAlbergueDeps } from './register-albergue.js';
import { registerAlbergue } from './register-albergue.js';

/**
 * Registers the seed albergues that are not registered yet (each → AlbergueRegistered, published
 * through the outbox like any registration). Run on every start: already-registered ones are
 * skipped, so only the first start (or a newly added seed entry) emits events.
 * Returns the ids registered now.
 */
export async function seedAlbergues(deps: RegisterAlbergueDeps, seed: readonly AlbergueSeed[] = CAMINO_FRANCES_SEED): Promise<string[]> {
  const registered: string[] = [];
  for (const albergue of seed) {
    const r = await registerAlbergue(deps, albergue);
    if (r.ok) registered.push(albergue.albergue_id);
    else if (r.errors[0].code !== 'albergue_exists')
      throw new Error(`seed albergue ${albergue.albergue_id} is invalid: ${r.errors.map((e) => e.reason).join('; ')}`);
  }
  return registered;
}
