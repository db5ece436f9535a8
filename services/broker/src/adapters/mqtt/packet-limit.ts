// A maximum MQTT packet size for Aedes, which has none: the check runs on the packet's header, as
// soon as its remaining length is decoded, so an oversized packet is refused before its body is
// buffered (a 20 MB publish no longer costs 20 MB), and it is never published or acknowledged.
import type { Client } from 'aedes';

interface PacketParser {
  packet: { length: number };
  _parseLength(): boolean;
  _emitError(err: Error): void;
}

/** Bytes of the fixed header (type byte + variable-length remaining length) of a packet. */
function headerBytes(remaining: number): number {
  return 1 + (remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4);
}

/** Installs the limit on a client's parser; `onRefused` is called with the announced size. */
export function limitPacketSize(client: Client, maxBytes: number, onRefused: (size: number) => void): void {
  const parser = (client as unknown as { _parser?: PacketParser })._parser;
  if (parser === undefined || typeof parser._parseLength !== 'function') {
    // A future Aedes without this parser: fail loudly rather than run without the limit.
    throw new Error('cannot install the MQTT packet size limit on this Aedes version (client._parser._parseLength missing)');
  }
  const parseLength = parser._parseLength.bind(parser);
  parser._parseLength = function limitedParseLength(this: PacketParser): boolean {
    if (!parseLength()) return false;
    const size = this.packet.length + headerBytes(this.packet.length);
    if (size <= maxBytes) return true;
    onRefused(size);
    // The parser error closes the connection (Aedes' client error handler).
    this._emitError(new Error(`MQTT packet of ${size} bytes is over the limit of ${maxBytes} bytes`));
    return false;
  };
}
