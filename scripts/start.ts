// `npm start`: runs the whole system on embedded defaults. Until the services exist it prints the plan.
const plan = [
  ['broker', 'MQTT 1884 (ws 8884), HTTP 8090', 'Aedes in memory, in-memory ledger'],
  ['gateway', 'HTTP 8080', 'the public entry'],
  ['location', 'HTTP 8101', 'albergues and beds'],
  ['booking', 'HTTP 8102', 'bookings, bed inventory, holds'],
  ['payment', 'HTTP 8103', 'payments, provider callbacks'],
  ['documents', 'HTTP 8104', 'guest identity documents'],
  ['notifications', 'HTTP 8105', 'email to guests'],
  ['audit', 'HTTP 8106', 'append-only trail of every event'],
];
console.log('Albergue — services planned (not yet runnable in this build):');
for (const [name, ports, what] of plan) console.log(`  ${name!.padEnd(14)} ${ports!.padEnd(32)} ${what}`);
