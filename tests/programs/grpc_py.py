# SPDX-License-Identifier: MIT
"""A gRPC server and client with Python's grpcio (gRPC's C core), for the
gRPC capture tests: the service demo.Echo of grpc_node.js, defined here
with generic handlers (messages are raw bytes, no generated code).
  grpc_py.py serve PORT            server on 127.0.0.1:PORT, prints "ready"
  grpc_py.py call HOST:PORT ACTION...
                                   the actions one after the other on one
                                   channel, one line printed for each:
    say=TEXT        unary Say   -> "CODE REPLY"
    fail=CODE,TEXT  unary Fail  -> "CODE DETAILS"
Service demo.Echo, as the server answers:
  Say   the request back
  Fail  the status CODE with message TEXT (request "CODE,TEXT")"""
import sys
from concurrent import futures

import grpc

CODES = {c.value[0]: c for c in grpc.StatusCode}


def say(request, context):
    return request


def fail(request, context):
    code, _, details = request.decode().partition(",")
    context.abort(CODES[int(code)], details)


def serve(port):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handlers = {"Say": grpc.unary_unary_rpc_method_handler(say),
                "Fail": grpc.unary_unary_rpc_method_handler(fail)}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("demo.Echo",
                                                                          handlers),))
    if server.add_insecure_port(f"127.0.0.1:{port}") != port:
        sys.exit(f"cannot listen on port {port}")
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


def call(target, actions):
    with grpc.insecure_channel(target) as channel:
        methods = {"say": channel.unary_unary("/demo.Echo/Say"),
                   "fail": channel.unary_unary("/demo.Echo/Fail")}
        for action in actions:
            name, _, arg = action.partition("=")
            try:
                reply = methods[name](arg.encode(), timeout=10)
                print(f"0 {reply.decode()}", flush=True)
            except grpc.RpcError as e:
                print(f"{e.code().value[0]} {e.details()}", flush=True)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "call":
        call(sys.argv[2], sys.argv[3:])
    else:
        sys.exit("usage: grpc_py.py serve PORT | call HOST:PORT ACTION...")


main()
