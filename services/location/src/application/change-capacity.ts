import type { ChangeCapacity } from '../domain/albergue.js';
import { decide, NO_ALBERGUE } from '../domain/albergue.js';
import type { AlbergueRepository, AlbergueView, Clock, LocationConfig } from './ports.js';
import type { CommandResult, DecisionLog } from '@albergue/application';
import { localDate } from '@albergue/application';
import { albergueView, saveAlbergueDecision } from './support.js';

export interface ChangeCapacityInput {
  readonly albergue_id: string;
  readonly beds: number;
  /** First night with the new capacity (default: today). */
  readonly effective_from?: string;
  readonly command_id?: string;
  /** The flow the command joins (x-correlation-id); a new one (its first event's id) otherwise. */
  readonly correlation_id?: string;
}

/**
 * ChangeCapacity → AlbergueCapacityChanged (with previous_beds). The same capacity again is a
 * no-op (`ignored` set, no event), so a retried request is harmless.
 */
export async function changeCapacity(
  deps: { readonly repo: AlbergueRepository; readonly clock: Clock; readonly config: LocationConfig; readonly decisions?: DecisionLog },
  input: ChangeCapacityInput,
): Promise<CommandResult<AlbergueView>> {
  const today = localDate(deps.clock.now(), deps.config.timeZone);
  const command: ChangeCapacity = {
    type: 'ChangeCapacity',
    data: { albergue_id: input.albergue_id, beds: input.beds, effective_from: input.effective_from ?? today, today },
  };
  return deps.repo.transaction(async (tx): Promise<CommandResult<AlbergueView>> => {
    const existing = await tx.load(input.albergue_id);
    const state = existing?.state ?? NO_ALBERGUE;
    const decision = decide(command, state);
    if (!decision.ok) return decision;
    if (decision.ignored && existing) {
      deps.decisions?.ignored({ decision: command.type, ignored: decision.ignored, refs: { albergue_id: input.albergue_id } });
      return { ok: true, value: albergueView(existing.state, today), events: [], ignored: decision.ignored };
    }
    const { envelopes, stored: record } = await saveAlbergueDecision(tx, state, decision.events, {
      causation_id: input.command_id,
      correlation_id: input.correlation_id,
    });
    if (!record) throw new Error('ChangeCapacity accepted without an event');
    return { ok: true, value: albergueView(record.state, today), events: envelopes };
  });
}
