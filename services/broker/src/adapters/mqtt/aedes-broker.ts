import { createServer as createHttpServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { Server as TcpServer } from 'node:net';
import { Aedes } from 'aedes';
import type { AedesPublishPacket, AuthenticateError, Client } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Logger } from '@albergue/platform';
import { listenOrExplain } from '@albergue/platform';
import type { AccessControlList } from '../../domain/acl.js';
import type { PasswordAuthenticator } from '../../application/authenticator.js';
import type { BrokerStorage } from './persistence.js';
import { ANONYMOUS_ACCOUNT, clientIdOwner, clientIdPrefix } from '../../domain/client-ids.js';
import { limitPacketSize } from './packet-limit.js';

type RefusalKind = 'connect' | 'client_id' | 'publish' | 'subscribe' | 'packet_size';
import { preserveDeliveryOrder } from './delivery-order.js';

export interface AedesBrokerOptions {
  readonly host: string;
  /** TCP port for MQTT (0 = any free port). */
  readonly mqttPort: number;
  /** WebSocket port for MQTT over WS; undefined disables it. */
  readonly wsPort?: number;
  readonly storage: BrokerStorage;
  readonly authenticator: PasswordAuthenticator;
  readonly acl: AccessControlList;
  /** Account whose rights a client without credentials gets; undefined = anonymous refused. */
  readonly anonymousAccount?: string;
  readonly logger: Logger;
  /** Called on every refusal (metrics). */
  readonly onRefusal?: (kind: RefusalKind) => void;
  /**
   * Runs after the ACL allowed a client's publish and before Aedes acknowledges it (Aedes sends the
   * QoS 1 PUBACK before in-process subscribers see a message). A rejection disconnects the client
   * without a PUBACK, so the publisher sends the message again.
   */
  readonly beforeAck?: (packet: {
    readonly topic: string;
    readonly payload: Buffer | string;
    readonly retain?: boolean;
  }) => Promise<void> | undefined;
  /** Largest MQTT packet accepted, in bytes (fixed header included); a bigger one disconnects the client. Default: no limit. */
  readonly maxPacketSize?: number;
}

export interface RetainedMessage {
  readonly topic: string;
  readonly payload: Buffer;
}

/** A running Aedes broker serving MQTT over TCP and WebSocket with authentication and the ACL. */
export class AedesBroker {
  private tcp: TcpServer | undefined;
  private http: HttpServer | undefined;
  private wss: WebSocketServer | undefined;
  private closed = false;
  mqttPort = 0;
  wsPort: number | undefined;

  private constructor(
    readonly aedes: Aedes,
    private readonly options: AedesBrokerOptions,
    private readonly accounts: WeakMap<Client, string>,
  ) {}

  static async start(options: AedesBrokerOptions): Promise<AedesBroker> {
    const log = options.logger;
    // The account each connected client authenticated as.
    const accounts = new WeakMap<Client, string>();
    // Clients that sent an empty client id: Aedes gives them a random one, which can take over nothing.
    const generatedIds = new WeakSet<Client>();
    const idOwners = [
      ...options.acl.accounts().map((a) => a.username),
      ...(options.anonymousAccount !== undefined ? [ANONYMOUS_ACCOUNT] : []),
    ];
    // The client id must be under the prefix of the account that authenticated (domain/client-ids.ts).
    const refuseForeignId = (client: Client, username: string | null, owner: string): AuthenticateError | null => {
      if (generatedIds.has(client) || clientIdOwner(client.id, idOwners) === owner) return null;
      log.warn(
        { client_id: client.id, username, allowed_prefix: clientIdPrefix(owner) },
        'MQTT connection refused: client id belongs to another account',
      );
      options.onRefusal?.('client_id');
      const err = new Error(`client id "${client.id}" is not under ${clientIdPrefix(owner)}`) as AuthenticateError;
      err.returnCode = 2; // identifier rejected
      return err;
    };
    const aedes = await Aedes.createBroker({
      ...options.storage.aedesOptions,
      preConnect: (client, packet, done) => {
        if (packet.clientId === '') generatedIds.add(client);
        done(null, true);
      },
      authenticate: (client, username, password, done) => {
        if (username === undefined && password === undefined && options.anonymousAccount !== undefined) {
          const refused = refuseForeignId(client, null, ANONYMOUS_ACCOUNT);
          if (refused) return done(refused, false);
          accounts.set(client, options.anonymousAccount);
          return done(null, true);
        }
        if (username !== undefined && options.authenticator.verify(username, password)) {
          const refused = refuseForeignId(client, username, username);
          if (refused) return done(refused, false);
          accounts.set(client, username);
          return done(null, true);
        }
        log.warn({ client_id: client.id, username: username ?? null }, 'MQTT connection refused: bad or missing credentials');
        options.onRefusal?.('connect');
        const err = new Error('bad username or password') as AuthenticateError;
        err.returnCode = 4;
        return done(err, false);
      },
      authorizePublish: (client, packet, done) => {
        if (client === null) return done(null);
        const account = accounts.get(client);
        if (account !== undefined && !packet.topic.startsWith('$') && options.acl.mayPublish(account, packet.topic)) {
          const pending = options.beforeAck?.(packet);
          if (pending === undefined) return done(null);
          return void pending.then(
            () => done(null),
            (err: unknown) => done(err as Error),
          );
        }
        log.warn({ client_id: client.id, username: account ?? null, topic: packet.topic }, 'MQTT publish refused by ACL');
        options.onRefusal?.('publish');
        return done(new Error(`${account ?? 'client'} may not publish to ${packet.topic}`));
      },
      authorizeSubscribe: (client, sub, done) => {
        const account = accounts.get(client);
        if (account !== undefined && options.acl.maySubscribe(account, sub.topic)) return done(null, sub);
        log.warn({ client_id: client.id, username: account ?? null, topic: sub.topic }, 'MQTT subscribe refused by ACL');
        options.onRefusal?.('subscribe');
        return done(null, null);
      },
      // Defence in depth: a persistent session may carry subscriptions from another packet; never
      // forward what the account could not subscribe to.
      authorizeForward: (client, packet) => {
        const account = accounts.get(client);
        if (packet.topic.startsWith('$')) return packet;
        return account !== undefined && options.acl.maySubscribe(account, packet.topic) ? packet : null;
      },
    });
    // Before any client connects: exact-duplicate dedupe and per-publisher emission order (issue 10).
    preserveDeliveryOrder(aedes);
    // Aedes emits `error` when its persistence fails (e.g. Redis away); unhandled, it would kill the process.
    (aedes as unknown as NodeJS.EventEmitter).on('error', (err: Error) => log.error({ err: err.message }, 'MQTT broker error'));
    const broker = new AedesBroker(aedes, options, accounts);
    aedes.on('clientError', (client, err) => log.debug({ client_id: client.id, err: err.message }, 'MQTT client error'));
    aedes.on('connectionError', (client, err) => log.debug({ client_id: client.id, err: err.message }, 'MQTT connection error'));
    try {
      await broker.listen();
    } catch (err) {
      await broker.close();
      throw err;
    }
    return broker;
  }

  private async listen(): Promise<void> {
    const { host } = this.options;
    this.tcp = createTcpServer((socket) => this.handle(socket));
    this.mqttPort = await listenOrExplain(this.tcp, this.options.mqttPort, host, 'BROKER_MQTT_PORT');
    if (this.options.wsPort !== undefined) {
      this.http = createHttpServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: upgrade required\n');
      });
      this.wsPort = await listenOrExplain(this.http, this.options.wsPort, host, 'BROKER_WS_PORT');
      // Attached once listening: a WebSocketServer re-emits the server's listen errors as its own.
      this.wss = new WebSocketServer({ server: this.http });
      this.wss.on('error', (err) => this.options.logger.error({ err: err.message }, 'WebSocket server error'));
      this.wss.on('connection', (ws, req) => {
        const stream = createWebSocketStream(ws);
        stream.on('error', () => ws.terminate());
        this.handle(stream, req);
      });
    }
    this.options.logger.info(
      { mqtt_port: this.mqttPort, ws_port: this.wsPort ?? null, storage: this.options.storage.kind },
      'MQTT broker listening',
    );
  }

  private handle(conn: Parameters<Aedes['handle']>[0], req?: Parameters<Aedes['handle']>[1]): void {
    const client = this.aedes.handle(conn, req);
    const max = this.options.maxPacketSize;
    if (max !== undefined) {
      limitPacketSize(client, max, (size) => {
        this.options.logger.warn(
          { client_id: client.id ?? null, packet_size: size, max_packet_size: max },
          'MQTT packet over the size limit: client disconnected',
        );
        this.options.onRefusal?.('packet_size');
      });
    }
  }

  get connectedClients(): number {
    return this.aedes.connectedClients;
  }

  /** Publishes from inside the broker (no ACL); resolves once the broker has taken it (persisted/emitted). */
  publish(topic: string, payload: Buffer, options: { retain?: boolean; qos?: 0 | 1 } = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      this.aedes.publish({ cmd: 'publish', topic, payload, qos: options.qos ?? 1, retain: options.retain ?? false, dup: false }, (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }

  /** Retained messages whose topics match `filter` (MQTT wildcards allowed). */
  async retained(filter: string, limit = 1000): Promise<RetainedMessage[]> {
    const persistence = (
      this.aedes as unknown as { persistence: { createRetainedStream(pattern: string): AsyncIterable<AedesPublishPacket> } }
    ).persistence;
    const out: RetainedMessage[] = [];
    for await (const packet of persistence.createRetainedStream(filter)) {
      out.push({ topic: packet.topic, payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload) });
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Removes the retained messages matching `filter` from the store, publishing nothing (an empty
   * retained PUBLISH would reach every current subscriber as an empty message). Returns their topics.
   */
  async clearRetained(filter: string): Promise<string[]> {
    const persistence = (this.aedes as unknown as { persistence: { storeRetained(packet: AedesPublishPacket): Promise<void> } })
      .persistence;
    const topics = [...new Set((await this.retained(filter, 10_000)).map((m) => m.topic))];
    for (const topic of topics) {
      await persistence.storeRetained({
        cmd: 'publish',
        topic,
        payload: Buffer.alloc(0),
        qos: 0,
        retain: true,
        dup: false,
      } as AedesPublishPacket);
    }
    return topics;
  }

  /**
   * An in-process subscription: `deliver` is awaited before the next message on it is taken, so a
   * slow consumer applies back-pressure instead of losing messages. Returns the unsubscribe function.
   */
  async subscribe(filter: string, deliver: (packet: AedesPublishPacket) => Promise<void>): Promise<() => Promise<void>> {
    const fn = (packet: AedesPublishPacket, cb: () => void) => {
      deliver(packet).then(cb, (err: unknown) => {
        this.options.logger.error({ topic: packet.topic, err: (err as Error).message }, 'internal subscriber failed');
        cb();
      });
    };
    await new Promise<void>((resolve) => this.aedes.subscribe(filter, fn, resolve));
    return () => new Promise<void>((resolve) => this.aedes.unsubscribe(filter, fn, resolve));
  }

  /** Stops listening, disconnects clients, closes the broker and its storage. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const tcpClosed = closeServer(this.tcp);
    for (const ws of this.wss?.clients ?? []) ws.terminate();
    const httpClosed = closeServer(this.http);
    this.wss?.close();
    this.options.storage.beforeClose();
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    await Promise.all([tcpClosed, httpClosed]);
    await this.options.storage.close();
  }
}

function closeServer(server: TcpServer | HttpServer | undefined): Promise<void> {
  if (!server?.listening) return Promise.resolve();
  return new Promise((resolve) => server.close(() => resolve()));
}
