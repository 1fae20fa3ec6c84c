// A raw HTTP/2 client over node's net, for the hostile-client tests and bench/hostile: it writes
// the frames itself (what a well-behaved library refuses to send) and records what comes back.
// HPACK: literals without Huffman; the server's header blocks are not decoded (only counted).

import net from 'node:net';
import tls from 'node:tls';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
export const T = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 };
export const F = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 };
export const ENHANCE_YOUR_CALM = 0xb;
export const CANCEL = 0x8;
export const REFUSED_STREAM = 0x7;
export const STREAM_CLOSED = 0x5;

export function frame(type, flags, streamId, payload = Buffer.alloc(0)) {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** RFC 7541 §5.1 integer with the given prefix bits; `first` holds the bits above the prefix. */
export function hpackInt(prefixBits, first, v) {
  const max = (1 << prefixBits) - 1;
  if (v < max) return Buffer.from([first | v]);
  const out = [first | max];
  v -= max;
  while (v >= 128) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

const str = (s) => {
  const b = Buffer.from(s);
  return Buffer.concat([hpackInt(7, 0, b.length), b]);
};
/** literal without indexing, new name */
export const literal = (name, value) => Buffer.concat([Buffer.from([0x00]), str(name), str(value)]);
/** literal with incremental indexing, new name: the field goes into the dynamic table */
export const literalIndexed = (name, value) => Buffer.concat([Buffer.from([0x40]), str(name), str(value)]);
/** indexed field (static 1..61, dynamic from 62) */
export const indexed = (i) => hpackInt(7, 0x80, i);

export function requestBlock(path, { method = 'POST', extra = [] } = {}) {
  return Buffer.concat([
    literal(':method', method), literal(':scheme', 'http'), literal(':path', path),
    literal(':authority', 'localhost'), literal('content-type', 'application/json'), ...extra,
  ]);
}

/** HEADERS (+ CONTINUATIONs when the block exceeds maxFrame) for one stream. */
export function headers(streamId, block, { endStream = false, maxFrame = 16384 } = {}) {
  const parts = [];
  for (let off = 0; off < block.length || parts.length === 0; off += maxFrame) parts.push(block.subarray(off, off + maxFrame));
  return Buffer.concat(parts.map((p, i) => {
    const last = i === parts.length - 1;
    const flags = (last ? F.END_HEADERS : 0) | (i === 0 && endStream ? F.END_STREAM : 0);
    return frame(i === 0 ? T.HEADERS : T.CONTINUATION, flags, streamId, p);
  }));
}

export const data = (streamId, body, endStream = true) => frame(T.DATA, endStream ? F.END_STREAM : 0, streamId, Buffer.from(body));
/** One request's body as DATA frames of at most maxFrame bytes (END_STREAM on the last). */
export function dataFrames(streamId, body, { maxFrame = 16384, endStream = true } = {}) {
  const out = [];
  for (let off = 0; off < body.length || out.length === 0; off += maxFrame) {
    const last = off + maxFrame >= body.length;
    out.push(frame(T.DATA, last && endStream ? F.END_STREAM : 0, streamId, body.subarray(off, off + maxFrame)));
  }
  return out;
}
export const rst = (streamId, code = CANCEL) => { const b = Buffer.alloc(4); b.writeUInt32BE(code); return frame(T.RST_STREAM, 0, streamId, b); };
export function settings(pairs = []) {
  const b = Buffer.alloc(6 * pairs.length);
  pairs.forEach(([id, v], i) => { b.writeUInt16BE(id, 6 * i); b.writeUInt32BE(v, 6 * i + 2); });
  return frame(T.SETTINGS, 0, 0, b);
}

/** One connection: the frames the server sent, its GOAWAY, whether it closed. */
export class RawH2 {
  /** port: h2c with prior knowledge; tls: true for HTTP/2 over TLS (ALPN h2, any certificate) */
  constructor(port, { settings: s = [], tls: overTls = false } = {}) {
    this.port = port;
    this.overTls = overTls;
    this.frames = [];
    this.goaway = null;
    this.closed = false;
    this.streams = new Map(); // id -> {headers, data: bytes, end, rst}
    this.buf = Buffer.alloc(0);
    this.initialSettings = s;
    this.pingAcks = 0;
  }

  async connect() {
    this.sock = this.overTls
      ? tls.connect({ port: this.port, host: '127.0.0.1', ALPNProtocols: ['h2'], rejectUnauthorized: false })
      : net.connect(this.port, '127.0.0.1');
    this.sock.on('error', () => {});
    this.sock.on('close', () => { this.closed = true; });
    this.sock.on('data', (d) => this.onData(d));
    await new Promise((resolve, reject) => { this.sock.once(this.overTls ? 'secureConnect' : 'connect', resolve); this.sock.once('error', reject); });
    if (this.overTls && this.sock.alpnProtocol !== 'h2') throw new Error(`ALPN: ${this.sock.alpnProtocol}`);
    this.write(Buffer.concat([PREFACE, settings(this.initialSettings)]));
    return this;
  }

  stream(id) {
    if (!this.streams.has(id)) this.streams.set(id, { headers: 0, data: 0, end: false, rst: null, rsts: [], body: [] });
    return this.streams.get(id);
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const f = { type: this.buf[3], flags: this.buf[4], id: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) };
      this.buf = this.buf.subarray(9 + len);
      this.frames.push({ type: f.type, flags: f.flags, id: f.id, length: len });
      if (f.type === T.SETTINGS && !(f.flags & F.ACK)) this.write(frame(T.SETTINGS, F.ACK, 0));
      if (f.type === T.PING && f.flags & F.ACK) this.pingAcks++;
      if (f.type === T.GOAWAY) this.goaway = { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4), debug: f.payload.subarray(8).toString() };
      if (f.type === T.HEADERS) this.stream(f.id).headers++;
      if (f.type === T.DATA) {
        const s = this.stream(f.id);
        s.data += len;
        s.body.push(Buffer.from(f.payload));
        // give the connection's window back (streams are short: their own windows never run out)
        if (len > 0) { const b = Buffer.alloc(4); b.writeUInt32BE(len); this.write(frame(T.WINDOW_UPDATE, 0, 0, b)); }
      }
      if ((f.type === T.HEADERS || f.type === T.DATA) && f.flags & F.END_STREAM) this.stream(f.id).end = true;
      if (f.type === T.RST_STREAM) { const s = this.stream(f.id); s.rst = f.payload.readUInt32BE(0); s.rsts.push(s.rst); }
    }
  }

  /** Writes unless the connection is gone; resolves when the bytes were handed to the kernel. */
  write(b) {
    if (this.closed || this.sock.destroyed) return Promise.resolve(false);
    return new Promise((resolve) => this.sock.write(b, (err) => resolve(!err)));
  }

  /** PING: the gateway answers once it parsed everything sent before (false if the connection ended). */
  async ping() {
    const want = this.pingAcks + 1;
    await this.write(frame(T.PING, 0, 0, Buffer.alloc(8)));
    while (this.pingAcks < want && !this.closed) await new Promise((r) => setTimeout(r, 2));
    return this.pingAcks >= want;
  }

  close() { this.sock.destroy(); }
}
