// SPDX-License-Identifier: MIT
// Node.js HTTPS (Node's own OpenSSL).  Server: https_node.js serve PORT CERT KEY
// answers 200 "node-tls <path>\n" and prints "ready".  Client: https_node.js
// get URL N makes N GET requests one after the other on one kept-alive
// connection (certificate not checked) and prints "done N".
'use strict';
const https = require('https');
const fs = require('fs');
const [mode, a, b, c] = process.argv.slice(2);

if (mode === 'serve') {
	const opts = { cert: fs.readFileSync(b), key: fs.readFileSync(c) };
	https.createServer(opts, (req, res) => {
		req.resume();
		req.on('end', () => res.end(`node-tls ${req.url}\n`));
	}).listen(+a, '127.0.0.1', () => console.log('ready'));
} else {
	const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
	const n = +b;
	let done = 0;
	const next = () => {
		if (done === n) {
			console.log(`done ${done}`);
			agent.destroy();
			return;
		}
		https.get(a, { agent, rejectUnauthorized: false }, (res) => {
			res.resume();
			res.on('end', () => { done++; next(); });
		});
	};
	next();
}
