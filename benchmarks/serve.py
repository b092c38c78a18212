"""`uvicorn --workers N`, but on a listening socket that keeps TCP_NODELAY.

uvicorn's multiprocess mode binds the socket with `proto` 0; accepted connections inherit it, and
asyncio turns TCP_NODELAY on only for sockets that say IPPROTO_TCP. Nagle's algorithm then holds
each response body (a second small write after the headers) until the client's delayed ACK:
every keep-alive request costs ~40 ms (uvicorn issue #3149, open at the time of writing; measured
here: a trivial ASGI app, one connection, 22 req/s with `--workers 2`, 6,500 with one worker).
A single-process `uvicorn` is not affected. This runs the same supervisor on a socket made with
IPPROTO_TCP.

    python benchmarks/serve.py ioc.asgi:application --port 8000 --workers 2
"""

import argparse
import os
import socket
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, os.getcwd())  # as uvicorn's --app-dir . does
    config = uvicorn.Config(
        args.app,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,
        log_level="warning",
        lifespan="auto",
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.set_inheritable(True)
    Multiprocess(config, sockets=[sock]).run()


if __name__ == "__main__":
    main()
