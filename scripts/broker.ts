// `npm run broker` (and the broker process of `start:services`): the broker service for the
// services this system runs (scripts/declarations.ts), configured from the environment.
import { runBrokerProcess } from '@albergue/broker';
import { SYSTEM_DECLARATIONS } from './declarations.js';

await runBrokerProcess(SYSTEM_DECLARATIONS);
