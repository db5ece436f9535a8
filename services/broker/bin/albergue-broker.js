#!/usr/bin/env node
// `npx albergue-broker …`: the operator CLI (src/cli.ts), run through tsx until the broker is built to JS.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
