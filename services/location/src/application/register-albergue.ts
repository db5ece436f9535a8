import type { RegisterAlbergue } from '../domain/albergue.js';
import { decide, NO_ALBERGUE, validateRegistration } from '../domain/albergue.js';
import type { AlbergueRepository, AlbergueView, Clock, IdGenerator, LocationConfig } from './ports.js';
import type { CommandResult } from '@albergue/application';
import { localDate } from '@albergue/application';
import { albergueView, saveAlbergueDecision } from './support.js';

export type RegisterAlbergueInput = Omit<RegisterAlbergue['data'], 'now' | 'albergue_id'> & {
  /** A chosen id (e.g. a slug); a new one from the id generator otherwise. */
  readonly albergue_id?: string;
  readonly command_id?: string;
  /** The flow the command joins (x-correlation-id); a new one (its first event's id) otherwise. */
  readonly correlation_id?: string;
};

export interface RegisterAlbergueDeps {
  readonly repo: AlbergueRepository;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly config: LocationConfig;
}

/** RegisterAlbergue → AlbergueRegistered. Refused with every problem (before any I/O), or albergue_exists. */
export async function registerAlbergue(deps: RegisterAlbergueDeps, input: RegisterAlbergueInput): Promise<CommandResult<AlbergueView>> {
  const now = deps.clock.now();
  const command: RegisterAlbergue = {
    type: 'RegisterAlbergue',
    data: {
      albergue_id: input.albergue_id ?? deps.ids(),
      name: input.name,
      town: input.town,
      route: input.route,
      location: input.location,
      beds: input.beds,
      nightly_price: input.nightly_price,
      now: now.toISOString(),
    },
  };
  const [first, ...more] = validateRegistration(command.data);
  if (first) return { ok: false, errors: [first, ...more] };
  return deps.repo.transaction(async (tx): Promise<CommandResult<AlbergueView>> => {
    const existing = await tx.load(command.data.albergue_id);
    const state = existing?.state ?? NO_ALBERGUE;
    const decision = decide(command, state);
    if (!decision.ok) return decision;
    const { envelopes, stored: record } = await saveAlbergueDecision(tx, state, decision.events, {
      causation_id: input.command_id,
      correlation_id: input.correlation_id,
    });
    if (!record) throw new Error('RegisterAlbergue accepted without an event');
    return { ok: true, value: albergueView(record.state, localDate(now, deps.config.timeZone)), events: envelopes };
  });
}
