// SPDX-License-Identifier: MIT
// A gRPC server and client with @grpc/grpc-js (tests/otlp-node/node_modules),
// for the gRPC capture tests.  The service is defined here, without .proto
// files: messages are raw bytes.
//   grpc_node.js serve PORT            server on 127.0.0.1:PORT, prints "ready"
//   grpc_node.js call HOST:PORT ACTION...
//                                      the actions one after the other on one
//                                      channel, one line printed for each:
//     say=TEXT          unary Say                  -> "CODE REPLY"
//     fail=CODE,TEXT    unary Fail                 -> "CODE DETAILS"
//     count=N           server streaming Count     -> "CODE MESSAGES"
//     slow=MS,DEADLINE  unary Slow with a deadline -> "CODE"
//     big=N             unary Big                  -> "CODE REPLY_BYTES"
//     put=N             unary Put, N bytes sent    -> "CODE REPLY"
//     many=N            N unary Say calls in flight at once
//                                                  -> "CODE..." (one per call)
// Service demo.Echo, as the server answers:
//   Say    the request back
//   Fail   the status CODE with message TEXT (request "CODE,TEXT")
//   Count  N messages "msg 0" .. "msg N-1", then OK (request "N")
//   Slow   "done" after MS milliseconds (request "MS")
//   Big    N bytes of 'x' (request "N")
//   Put    the request's size in bytes, as text
'use strict';
const path = require('path');
const grpc = require(path.join(__dirname, '..', 'otlp-node', 'node_modules', '@grpc',
			       'grpc-js'));

const bytes = (b) => b; // messages go on the wire as they are
const text = (s) => Buffer.from(String(s));

function method(name, responseStream) {
	return {
		path: `/demo.Echo/${name}`,
		requestStream: false,
		responseStream,
		requestSerialize: bytes,
		requestDeserialize: bytes,
		responseSerialize: bytes,
		responseDeserialize: bytes,
	};
}

const SERVICE = {
	Say: method('Say', false),
	Fail: method('Fail', false),
	Count: method('Count', true),
	Slow: method('Slow', false),
	Big: method('Big', false),
	Put: method('Put', false),
};

const handlers = {
	Say: (call, done) => done(null, call.request),
	Fail: (call, done) => {
		const req = call.request.toString();
		const comma = req.indexOf(',');
		done({ code: Number(req.slice(0, comma)), details: req.slice(comma + 1) });
	},
	Count: (call) => {
		const n = Number(call.request.toString());
		for (let i = 0; i < n; i++)
			call.write(text(`msg ${i}`));
		call.end();
	},
	Slow: (call, done) => {
		setTimeout(() => done(null, text('done')), Number(call.request.toString()));
	},
	Big: (call, done) => done(null, Buffer.alloc(Number(call.request.toString()), 'x')),
	Put: (call, done) => done(null, text(call.request.length)),
};

function serve(port) {
	const server = new grpc.Server();
	server.addService(SERVICE, handlers);
	server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
		if (err) {
			console.error(err.message);
			process.exit(1);
		}
		console.log('ready');
	});
}

const Client = grpc.makeGenericClientConstructor(SERVICE, 'Echo');

// A call's outcome as "CODE WHAT": the status code, then what came back.
function unary(client, name, req, options = {}) {
	return new Promise((resolve) => {
		client[name](req, new grpc.Metadata(), options, (err, reply) => {
			if (err)
				resolve(`${err.code} ${err.details}`);
			else
				resolve(`0 ${name === 'Big' ? reply.length : reply.toString()}`);
		});
	});
}

function serverStream(client, n) {
	return new Promise((resolve) => {
		const call = client.Count(text(n));
		let got = 0;
		call.on('data', () => { got++; });
		call.on('error', () => {});
		call.on('status', (st) => resolve(`${st.code} ${got}`));
	});
}

async function act(client, action) {
	const eq = action.indexOf('=');
	const name = action.slice(0, eq);
	const args = action.slice(eq + 1).split(',');
	switch (name) {
	case 'say':
		return unary(client, 'Say', text(args[0]));
	case 'fail':
		return unary(client, 'Fail', text(action.slice(eq + 1)));
	case 'count':
		return serverStream(client, Number(args[0]));
	case 'slow': {
		// The deadline counts from the call, not from the connection's
		// set-up, which a loaded host can stretch past it.
		await new Promise((resolve, reject) =>
			client.waitForReady(Date.now() + 10000, (e) => (e ? reject(e) : resolve())));
		const deadline = new Date(Date.now() + Number(args[1]));
		return (await unary(client, 'Slow', text(args[0]), { deadline })).split(' ')[0];
	}
	case 'big':
		return unary(client, 'Big', text(args[0]));
	case 'put':
		return unary(client, 'Put', Buffer.alloc(Number(args[0]), 'p'));
	case 'many': {
		const calls = [];
		for (let i = 0; i < Number(args[0]); i++)
			calls.push(unary(client, 'Say', text(`m${i}`)));
		const out = await Promise.all(calls);
		// Each call must have had its own answer back.
		return out.map((r, i) => (r === `0 m${i}` ? '0' : `bad:${r}`)).join(' ');
	}
	default:
		throw new Error(`unknown action ${action}`);
	}
}

async function call(target, actions) {
	const client = new Client(target, grpc.credentials.createInsecure());
	for (const a of actions)
		console.log(await act(client, a));
	client.close();
}

const [mode, arg, ...rest] = process.argv.slice(2);
if (mode === 'serve')
	serve(Number(arg));
else if (mode === 'call')
	call(arg, rest).catch((e) => { console.error(e.message); process.exit(1); });
else {
	console.error('usage: grpc_node.js serve PORT | call HOST:PORT ACTION...');
	process.exit(2);
}
