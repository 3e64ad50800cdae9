// SPDX-License-Identifier: MIT
// Node.js `http2` over TLS, a connection held across spanprobe's start, and
// an HTTP/1.1 server that takes `Upgrade: h2c`, for the HTTP/2 capture tests.
//   h2_tls_node.js serve-tls PORT CERT KEY  HTTP/2 over TLS (ALPN h2) on
//                                           127.0.0.1:PORT, prints "ready"
//   h2_tls_node.js serve-upgrade PORT       HTTP/1.1 on 127.0.0.1:PORT that
//                                           answers `Upgrade: h2c` with 101
//                                           and HTTP/2; prints "ready"
//   h2_tls_node.js get URL N                N GETs, one after the other on
//                                           one connection, of URL's path +
//                                           0 .. N-1; prints each status
//   h2_tls_node.js held URL N M             as get for N, prints "held",
//                                           waits for a line on stdin, then
//                                           M more GETs on the same connection
// https URLs are not verified (the tests' certificates are self-signed).
// Every server answers a GET with 200 and "hello h2\n" (9 bytes).
'use strict';
const fs = require('fs');
const http = require('http');
const http2 = require('http2');
const readline = require('readline');
const { Duplex } = require('stream');

function answer(stream) {
	stream.on('data', () => {});
	stream.on('end', () => {
		stream.respond({ ':status': 200, 'content-type': 'text/plain',
				 'content-length': 9 });
		stream.end('hello h2\n');
	});
}

function serveTls(port, cert, key) {
	const server = http2.createSecureServer({ cert: fs.readFileSync(cert),
						  key: fs.readFileSync(key) });
	server.on('stream', answer);
	server.listen(port, '127.0.0.1', () => console.log('ready'));
}

// An HPACK integer with an n-bit prefix (RFC 7541 section 5.1).
function hpackInt(value, n, first) {
	const max = (1 << n) - 1;
	if (value < max)
		return [first | value];
	const out = [first | max];
	for (value -= max; value >= 128; value >>= 7)
		out.push((value & 127) | 128);
	out.push(value);
	return out;
}

// Literal fields without indexing, new names (RFC 7541 section 6.2.2):
// the block leaves the connection's dynamic table as it was.
function hpackLiterals(fields) {
	const out = [];
	for (const [name, value] of fields) {
		const n = Buffer.from(name), v = Buffer.from(value);
		out.push(Buffer.from([0]), Buffer.from(hpackInt(n.length, 7, 0)), n,
			 Buffer.from(hpackInt(v.length, 7, 0)), v);
	}
	return Buffer.concat(out);
}

// A HEADERS frame (END_STREAM, END_HEADERS) on `stream`.
function headersFrame(stream, block) {
	const h = Buffer.alloc(9);
	h.writeUIntBE(block.length, 0, 3);
	h[3] = 0x1;
	h[4] = 0x1 | 0x4;
	h.writeUInt32BE(stream, 5);
	return Buffer.concat([h, block]);
}

// The client's bytes, as Node's HTTP/2 server reads them: the request
// that asked for the upgrade is stream 1, half-closed by the client
// (RFC 7540 section 3.2).  Node's http2 cannot be told so, so a HEADERS
// frame of stream 1 is put after the client's preface and first SETTINGS
// frame; on the wire nothing changes.
class Upgraded extends Duplex {
	constructor(socket, request, head) {
		super();
		this.socket = socket;
		this.pending = head;
		this.request = request;
		socket.on('data', (b) => this.take(b));
		socket.on('end', () => this.push(null));
		socket.on('close', () => this.destroy());
		socket.on('error', (e) => this.destroy(e));
	}

	take(b) {
		if (!this.request) {
			if (!this.push(b))
				this.socket.pause();
			return;
		}
		this.pending = Buffer.concat([this.pending, b]);
		const preface = 24;
		if (this.pending.length < preface + 9)
			return;
		const end = preface + 9 + this.pending.readUIntBE(preface, 3);
		if (this.pending.length < end)
			return;
		const rest = this.pending.subarray(end);
		this.push(this.pending.subarray(0, end));
		this.push(headersFrame(1, hpackLiterals(this.request)));
		this.request = null;
		this.pending = null;
		if (rest.length)
			this.push(rest);
	}

	_read() {
		this.socket.resume();
	}

	_write(chunk, encoding, done) {
		this.socket.write(chunk, encoding, done);
	}

	_final(done) {
		this.socket.end(done);
	}

	_destroy(err, done) {
		this.socket.destroy();
		done(err);
	}
}

function serveUpgrade(port) {
	const h2 = http2.createServer();
	h2.on('stream', answer);
	const server = http.createServer((req, res) => {
		res.writeHead(426, { 'upgrade': 'h2c', 'connection': 'upgrade' });
		res.end();
	});
	server.on('upgrade', (req, socket, head) => {
		if (String(req.headers.upgrade).toLowerCase() !== 'h2c' ||
		    req.headers['http2-settings'] === undefined) {
			socket.destroy();
			return;
		}
		socket.write('HTTP/1.1 101 Switching Protocols\r\n' +
			     'Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
		const request = [[':method', req.method], [':path', req.url],
				 [':scheme', 'http'], [':authority', req.headers.host]];
		h2.emit('connection', new Upgraded(socket, request, head));
	});
	server.listen(port, '127.0.0.1', () => console.log('ready'));
}

function get(conn, path) {
	return new Promise((resolve, reject) => {
		const req = conn.request({ ':method': 'GET', ':path': path });
		let status = 0;
		req.on('response', (h) => { status = h[':status']; });
		req.on('data', () => {});
		req.on('end', () => resolve(status));
		req.on('error', reject);
		req.end();
	});
}

async function gets(conn, path, from, n) {
	for (let i = from; i < from + n; i++)
		console.log(await get(conn, path + i));
}

function lineOnStdin() {
	return new Promise((resolve) => {
		const rl = readline.createInterface({ input: process.stdin });
		rl.once('line', () => { rl.close(); resolve(); });
	});
}

async function client(mode, url, n, m) {
	const u = new URL(url);
	const conn = http2.connect(u.origin, { rejectUnauthorized: false });
	conn.on('error', (e) => { console.error(e.message); process.exit(1); });
	await gets(conn, u.pathname, 0, Number(n));
	if (mode === 'held') {
		console.log('held');
		await lineOnStdin();
		await gets(conn, u.pathname, Number(n), Number(m));
	}
	conn.close();
}

const [mode, a, b, c] = process.argv.slice(2);
if (mode === 'serve-tls')
	serveTls(Number(a), b, c);
else if (mode === 'serve-upgrade')
	serveUpgrade(Number(a));
else if (mode === 'get' || mode === 'held')
	client(mode, a, b, c).catch((e) => { console.error(e.message); process.exit(1); });
else
	console.error(`unknown mode ${mode}`), process.exit(2);
