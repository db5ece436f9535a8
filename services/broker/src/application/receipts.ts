import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Delivery } from '@albergue/messaging';

/**
 * Lease receipts for HTTP consumers: the leased Delivery, signed so a client cannot alter it.
 * Stateless, so any broker instance sharing the secret can take the ack or nack. The ledger still
 * checks the lease token: a receipt whose lease lapsed is refused as stale.
 */
export class ReceiptSigner {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = createHmac('sha256', 'albergue-broker-receipt').update(secret).digest();
  }

  sign(delivery: Delivery): string {
    const data = Buffer.from(JSON.stringify(delivery)).toString('base64url');
    return `${data}.${this.mac(data)}`;
  }

  /** The delivery, or undefined when the receipt is malformed or was not signed here. */
  verify(receipt: string): Delivery | undefined {
    const dot = receipt.lastIndexOf('.');
    if (dot <= 0) return undefined;
    const data = receipt.slice(0, dot);
    const given = Buffer.from(receipt.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.mac(data), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      return JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as Delivery;
    } catch {
      return undefined;
    }
  }

  private mac(data: string): string {
    return createHmac('sha256', this.key).update(data).digest('base64url');
  }
}
