import { dlqOperationsContract } from '../dlq/operations.contract.js';
import type { LedgerFactory } from './ledger.contract.js';
import { ledgerContract } from './ledger.contract.js';
import { MemoryDeliveryLedger, MemoryLedgerStore } from './memory-ledger.js';

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
