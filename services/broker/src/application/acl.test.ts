import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterCovers, isValidFilter, topicMatches } from '../domain/topic-filter.js';
import { AccessControlList } from '../domain/acl.js';
import { AuditLogged, BookingReserved } from '@albergue/events';
import { declareService } from '@albergue/messaging';
import { aclFromDeclarations } from './acl-from-declarations.js';

test('topicMatches follows MQTT wildcard rules', () => {
  assert.equal(topicMatches('albergue/#', 'albergue/booking/v1/BookingReserved'), true);
  assert.equal(topicMatches('albergue/+/v1/BookingReserved', 'albergue/booking/v1/BookingReserved'), true);
  assert.equal(topicMatches('albergue/+', 'albergue/booking/v1'), false);
  assert.equal(topicMatches('albergue/booking/#', 'albergue/booking'), true);
  assert.equal(topicMatches('#', '$SYS/x'), false);
  assert.equal(topicMatches('albergue/booking/v1/BookingReserved', 'albergue/booking/v1/BookingConfirmed'), false);
});

test('filterCovers: a granted filter must contain every topic of the requested one', () => {
  assert.equal(filterCovers('albergue/#', 'albergue/booking/#'), true);
  assert.equal(filterCovers('albergue/booking/#', 'albergue/#'), false);
  assert.equal(filterCovers('albergue/booking/v1/X', 'albergue/booking/v1/+'), false);
  assert.equal(filterCovers('albergue/+/v1/X', 'albergue/booking/v1/X'), true);
  assert.equal(filterCovers('a/b', 'a/b/#'), false);
});

test('isValidFilter refuses misplaced wildcards', () => {
  assert.equal(isValidFilter('albergue/#'), true);
  assert.equal(isValidFilter('albergue/#/x'), false);
  assert.equal(isValidFilter('albergue/boo+'), false);
  assert.equal(isValidFilter(''), false);
});

test('the ACL grants only what is listed, per account', () => {
  const acl = new AccessControlList([
    { username: 'booking', publish: ['albergue/booking/v1/BookingReserved'], subscribe: ['albergue/payment/v1/PaymentConfirmed'] },
    { username: 'observer', publish: [], subscribe: ['albergue/#'] },
  ]);
  assert.equal(acl.mayPublish('booking', 'albergue/booking/v1/BookingReserved'), true);
  assert.equal(acl.mayPublish('booking', 'albergue/payment/v1/PaymentConfirmed'), false);
  assert.equal(acl.maySubscribe('booking', 'albergue/payment/v1/PaymentConfirmed'), true);
  assert.equal(acl.maySubscribe('booking', 'albergue/payment/#'), false);
  assert.equal(acl.maySubscribe('observer', 'albergue/booking/#'), true);
  assert.equal(acl.mayPublish('observer', 'albergue/booking/v1/BookingReserved'), false);
  assert.equal(acl.mayPublish('stranger', 'albergue/booking/v1/BookingReserved'), false);
});

test('client ids belong to the account with the longest matching prefix', async () => {
  const { clientIdOwner } = await import('../domain/client-ids.js');
  const accounts = ['payment', 'pay', 'observer', 'booking'];
  assert.equal(clientIdOwner('albergue-payment-0', accounts), 'payment');
  assert.equal(clientIdOwner('albergue-payment-outbox-3', accounts), 'payment');
  assert.equal(clientIdOwner('albergue-pay-0', accounts), 'pay');
  assert.equal(clientIdOwner('albergue-observer-x', accounts), 'observer');
  for (const id of [
    'albergue-payment-',
    'albergue-payment',
    'Albergue-payment-0',
    'albergue-PAYMENT-0',
    'payment-0',
    'mqttjs_1234',
    '',
    'xalbergue-payment-0',
  ]) {
    assert.equal(clientIdOwner(id, accounts), undefined, id);
  }
});

test('a wildcard subscription (subscribesAll) is granted as its filter, and nothing more', () => {
  const acl = aclFromDeclarations(
    [
      declareService({
        service: 'audit',
        context: 'audit',
        publishes: [AuditLogged],
        subscribes: [],
        subscribesAll: { filter: 'albergue/booking/#', handler: 'recordOnAnyEvent' },
      }),
    ],
    { observer: false },
  );
  assert.equal(acl.maySubscribe('audit', 'albergue/booking/#'), true);
  assert.equal(acl.maySubscribe('audit', toMqtt(BookingReserved.topic)), true);
  assert.equal(acl.maySubscribe('audit', 'albergue/#'), false);
  assert.equal(acl.mayPublish('audit', toMqtt(BookingReserved.topic)), false);
});

const toMqtt = (t: string) => t.replaceAll('.', '/');
test('a wildcard subscription (subscribesAll) is granted as its filter, for subscribing only', async () => {
  const { AuditLogged } = await import('@albergue/events');
  const { declareService } = await import('@albergue/messaging');
  const { aclFromDeclarations, grantsFromDeclarations } = await import('./acl-from-declarations.js');
  const audit = declareService({
    service: 'audit',
    context: 'audit',
    publishes: [AuditLogged],
    subscribes: [],
    subscribesAll: { filter: 'albergue/#', handler: 'recordOnAnyEvent', except: [AuditLogged] },
  });
  const acl = aclFromDeclarations([audit]);
  assert.equal(acl.maySubscribe('audit', 'albergue/#'), true);
  assert.equal(acl.maySubscribe('audit', 'albergue/booking/v1/BookingReserved'), true);
  assert.equal(acl.maySubscribe('audit', '#'), false);
  assert.equal(acl.mayPublish('audit', 'albergue/booking/v1/BookingReserved'), false);
  assert.equal(acl.mayPublish('audit', 'albergue/audit/v1/AuditLogged'), true);
  // The Mosquitto ACL file is written from the same grants: `topic read albergue/#` for audit.
  assert.deepEqual(grantsFromDeclarations([audit], { observer: false })[0]?.subscribe, ['albergue/#']);
});
