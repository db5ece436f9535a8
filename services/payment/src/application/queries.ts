import type { PaymentQueries, PaymentView } from './ports.js';

export function getPayment(queries: PaymentQueries, paymentId: string): Promise<PaymentView | undefined> {
  return queries.findPayment(paymentId);
}

export function getPaymentOfBooking(queries: PaymentQueries, bookingId: string): Promise<PaymentView | undefined> {
  return queries.findPaymentOfBooking(bookingId);
}
