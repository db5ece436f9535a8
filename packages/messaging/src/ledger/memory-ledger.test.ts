import { dlqOperationsContract } from '../dlq/operations.contract';
import type { LedgerFactory } from './ledger.contract';
import { ledgerContract } from './ledger.contract';
import { MemoryDeliveryLedger, MemoryLedgerStore } from './memory-ledger';

const factory: LedgerFactory = () => {
  const store = new MemoryLedgerStore();
  const open = () => {
    const ledger = new MemoryDeliveryLedger(store);
    return { ledger, deadLetters: ledger.deadLetters, breakers: ledger.breakers };
  };
  return Promise.resolve({ ...open(), peer: () => Promise.resolve(open()), close: () => Promise.resolve() });
};

ledgerContract('memory', factory);
dlqOperationsContract('memory', factory);
