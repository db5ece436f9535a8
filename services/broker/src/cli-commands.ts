// The operator CLI's commands over the library API (DlqOperations, the Redis breaker store).
import { parseArgs } from 'node:util';
import { DlqOperations, RedisDeliveryLedger } from '@albergue/messaging';
import type { RedisLedgerOptions } from '@albergue/messaging';

export const USAGE = `usage: albergue-broker dlq list | dlq show <topic> [--offset N] [--limit N] [--id ID]
       albergue-broker dlq replay <topic> [--id ID ...] [--subscriber S] [--dry-run]
       albergue-broker dlq purge <topic> [--id ID ...] [--subscriber S] --yes
       albergue-broker circuits list | circuits reset <subscriber> <topic>
env: REDIS_URL (default redis://127.0.0.1:6379)`;

export class UsageError extends Error {}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got "${v}"`);
  return n;
}

/** Runs one CLI command; the result is printed as JSON by the entry point. Throws UsageError on bad usage. */
export async function runCommand(argv: string[], ledgerOptions: RedisLedgerOptions = {}): Promise<unknown> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      id: { type: 'string', multiple: true }, subscriber: { type: 'string' }, offset: { type: 'string' }, limit: { type: 'string' },
      'dry-run': { type: 'boolean' }, yes: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  const [group, command, ...rest] = positionals;
  if (values.help || group === undefined) throw new UsageError('');
  const ledger = new RedisDeliveryLedger(ledgerOptions);
  try {
    const dlq = new DlqOperations({ ledger, deadLetters: ledger.deadLetters });
    const need = (what: string, v: string | undefined): string => {
      if (v === undefined) throw new UsageError(`missing <${what}>`);
      return v;
    };
    const narrow = { ...(values.id ? { ids: values.id } : {}), ...(values.subscriber !== undefined ? { subscriber: values.subscriber } : {}) };
    switch (`${group} ${command ?? ''}`) {
      case 'dlq list':
        return { topics: await dlq.topics() };
      case 'dlq show': {
        const topic = need('topic', rest[0]);
        if (values.id?.[0] !== undefined) return (await dlq.get(topic, values.id[0], values.subscriber)) ?? { error: `no dead letter ${values.id[0]} on ${topic}` };
        const offset = int('offset', values.offset);
        const limit = int('limit', values.limit);
        return await dlq.read(topic, { ...(offset !== undefined ? { offset } : {}), ...(limit !== undefined ? { limit } : {}) });
      }
      case 'dlq replay':
        return await dlq.replay(need('topic', rest[0]), { ...narrow, dryRun: values['dry-run'] ?? false });
      case 'dlq purge': {
        const topic = need('topic', rest[0]);
        if (!values.yes) throw new UsageError('purge deletes dead letters for good: add --yes (see what is there with `dlq show <topic>`)');
        return { purged: await dlq.purge(topic, narrow) };
      }
      case 'circuits list':
        return { circuits: await ledger.breakers.list() };
      case 'circuits reset': {
        const subscriber = need('subscriber', rest[0]);
        const topic = need('topic', rest[1]);
        await ledger.breakers.reset(subscriber, topic);
        return { status: await ledger.breakers.status(subscriber, topic) };
      }
      default:
        throw new UsageError(`unknown command "${positionals.join(' ')}"`);
    }
  } finally {
    await ledger.close();
  }
}

