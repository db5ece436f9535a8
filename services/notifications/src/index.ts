// @albergue/notifications: messages to guests over SMTP from the events of their bookings, payments
// and documents; the contact read model.
export * from './domain/contact.js';
export * from './domain/notification.js';
export * from './domain/templates.js';
export * from './application/ports.js';
export * from './application/notify-guest.js';
export * from './application/remember-contact.js';
export * from './application/forget-contact.js';
export { PgNotificationStore } from './adapters/postgres/pg-notification-store.js';
export { NOTIFICATIONS_MIGRATIONS } from './adapters/postgres/migrations.js';
export { NodemailerMailer } from './adapters/smtp/nodemailer-mailer.js';
export { notificationRoutes } from './adapters/http/routes.js';
