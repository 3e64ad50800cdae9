// SPDX-License-Identifier: MIT
// A Node.js `http` server for the HTTP capture tests.  Prints "ready" once
// listening on 127.0.0.1:PORT.  Routes:
//   /users/ID     200, JSON body {"id":"ID"} with Content-Length
//   /chunked      200, body "hello chunked world" in three chunks
//   /big-chunked  200, chunked: res.write(5000 bytes), res.end(3000 bytes)
//   /fail         500, body "oops"
//   POST /echo    200, body: the number of request body bytes received
//   anything else 404, body "not found"
'use strict';
const http = require('http');

const port = Number(process.argv[2]);

function handle(req, res, body) {
	const path = req.url.split('?')[0];
	if (path.startsWith('/users/')) {
		const b = JSON.stringify({ id: path.slice(7) });
		res.writeHead(200, { 'Content-Type': 'application/json',
				     'Content-Length': Buffer.byteLength(b) });
		res.end(b);
	} else if (path === '/chunked') {
		res.writeHead(200, { 'Content-Type': 'text/plain' });
		res.write('hello ');
		setTimeout(() => { res.write('chunked '); res.end('world'); }, 20);
	} else if (path === '/big-chunked') {
		res.writeHead(200, { 'Content-Type': 'text/plain' });
		res.write('x'.repeat(5000));
		res.end('y'.repeat(3000));
	} else if (path === '/fail') {
		res.writeHead(500, { 'Content-Length': 4 });
		res.end('oops');
	} else if (path === '/echo' && req.method === 'POST') {
		const b = String(body);
		res.writeHead(200, { 'Content-Length': b.length });
		res.end(b);
	} else {
		res.writeHead(404, { 'Content-Length': 9 });
		res.end('not found');
	}
}

const server = http.createServer((req, res) => {
	let n = 0;
	req.on('data', (d) => { n += d.length; });
	req.on('end', () => handle(req, res, n));
});
server.listen(port, '127.0.0.1', () => console.log('ready'));
