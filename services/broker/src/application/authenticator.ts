import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Checks MQTT credentials against the configured accounts (username → password). Comparison is
 * constant-time; an unknown username costs the same as a wrong password.
 */
export class PasswordAuthenticator {
  private readonly digests = new Map<string, Buffer>();

  constructor(users: ReadonlyMap<string, string>) {
    for (const [user, password] of users) this.digests.set(user, digest(password));
  }

  verify(username: string | undefined, password: Buffer | string | undefined): boolean {
    if (username === undefined || password === undefined) return false;
    const expected = this.digests.get(username);
    const given = digest(password);
    if (!expected) {
      timingSafeEqual(given, given);
      return false;
    }
    return timingSafeEqual(expected, given);
  }
}

function digest(value: Buffer | string): Buffer {
  return createHash('sha256').update(value).digest();
}
