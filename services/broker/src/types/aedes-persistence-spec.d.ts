// aedes-persistence 11 (installed as `aedes-persistence-spec`) ships the abstract test suite every
// Aedes persistence runs; it has no types for it. This is how it is called.
declare module 'aedes-persistence-spec/abstract.js' {
  interface AbstractPersistenceOptions {
    /** node:test's `test`. */
    test: (name: string, fn: (t: unknown) => Promise<void>) => unknown;
    /** A fresh persistence per test, on an empty store. */
    persistence: () => Promise<unknown>;
    /** Wait for the callback persistence's `ready` event. */
    waitForReady?: boolean;
  }
  function abstractPersistence(options: AbstractPersistenceOptions): void;
  export default abstractPersistence;
}
