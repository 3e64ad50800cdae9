// SPDX-License-Identifier: MIT
// Node.js `http2` over cleartext (h2c) for the HTTP/2 capture tests.
//   h2_node.js serve PORT        server on 127.0.0.1:PORT, prints "ready"
//   h2_node.js get URL N         N GETs, one after the other on one session,
//                                of URL's path + 0 .. N-1; prints each status
//   h2_node.js post URL BYTES    one POST of BYTES bytes; prints the status
//   h2_node.js grpc URL          one POST with content-type application/grpc
//                                (a 5-byte empty message); prints grpc-status
// Server routes:
//   /pkg.Service/Method  gRPC-shaped: 200, no data, trailers grpc-status 5
//   POST anything        200, body: the number of request body bytes
//   GET anything         200, body "hello h2\n" (9 bytes)
'use strict';
const http2 = require('http2');

function serve(port) {
	const server = http2.createServer();
	server.on('stream', (stream, headers) => {
		const path = headers[':path'];
		const method = headers[':method'];
		let got = 0;
		stream.on('data', (chunk) => { got += chunk.length; });
		stream.on('end', () => {
			if (path === '/pkg.Service/Method') {
				stream.respond({ ':status': 200, 'content-type': 'application/grpc' },
					       { waitForTrailers: true });
				stream.on('wantTrailers', () => {
					stream.sendTrailers({ 'grpc-status': '5',
							      'grpc-message': 'no such thing' });
				});
				stream.end();
			} else if (method === 'POST') {
				const b = String(got);
				stream.respond({ ':status': 200, 'content-length': b.length });
				stream.end(b);
			} else {
				stream.respond({ ':status': 200, 'content-type': 'text/plain',
						 'content-length': 9 });
				stream.end('hello h2\n');
			}
		});
	});
	server.listen(port, '127.0.0.1', () => console.log('ready'));
}

function request(session, headers, body) {
	return new Promise((resolve, reject) => {
		const req = session.request(headers);
		let status = 0;
		let trailers = {};
		req.on('response', (h) => { status = h[':status']; trailers = h; });
		req.on('trailers', (t) => { trailers = t; });
		req.on('data', () => {});
		req.on('end', () => resolve({ status, trailers }));
		req.on('error', reject);
		req.end(body);
	});
}

async function client(mode, url, arg) {
	const u = new URL(url);
	const session = http2.connect(u.origin);
	session.on('error', (e) => { console.error(e.message); process.exit(1); });
	if (mode === 'get') {
		for (let i = 0; i < Number(arg); i++) {
			const r = await request(session, { ':method': 'GET', ':path': u.pathname + i });
			console.log(r.status);
		}
	} else if (mode === 'post') {
		const r = await request(session, { ':method': 'POST', ':path': u.pathname },
					Buffer.alloc(Number(arg), 'x'));
		console.log(r.status);
	} else if (mode === 'grpc') {
		const r = await request(session, { ':method': 'POST', ':path': u.pathname,
						   'content-type': 'application/grpc', 'te': 'trailers' },
					Buffer.alloc(5));
		console.log(r.trailers['grpc-status']);
	}
	session.close();
}

const [mode, a, b] = process.argv.slice(2);
if (mode === 'serve')
	serve(Number(a));
else
	client(mode, a, b).catch((e) => { console.error(e.message); process.exit(1); });
