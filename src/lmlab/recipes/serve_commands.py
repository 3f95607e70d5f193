"""``lmlab serve``: run folders over HTTP with a browser playground (issue 23). Thin: check
the binding, load every run (a missing file is a one-line error before anything listens),
build the app, run uvicorn."""

from __future__ import annotations

import argparse
import os
import socket

import torch

from lmlab.errors import ConfigError
from lmlab.recipes.arguments import positive_int
from lmlab.recipes.serve_corners import CORNER_LOADERS
from lmlab.serve import Limits, build_app, load_models, serve
from lmlab.serve.access import TOKEN_ENV, check_binding, is_local

EXAMPLES = """examples:
  lmlab serve runs/bert-tiny runs/gpt-tiny            (http://127.0.0.1:8000: playground, /docs)
  lmlab serve gpt=runs/gpt-tiny kn5=runs/kn5 --port 8080
  LMLAB_SERVE_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(24))') \\
      lmlab serve runs/bert-tiny --host 0.0.0.0     (clients send 'Authorization: Bearer ...')

  curl -s 127.0.0.1:8000/fill-mask -H 'content-type: application/json' \\
      -d '{"model": "bert-tiny", "text": "the stock market [MASK] sharply"}'

Safe by default: it binds 127.0.0.1; another --host needs a token, checked on every
request; inputs, batches, new tokens and bodies are limited; one model call runs at a
time with at most --max-queue requests waiting.
"""


def _check_port_free(host: str, port: int) -> None:
    """A port in use is a one-line error before the models load, not uvicorn's log."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ConfigError(f"--host {host} --port {port}: cannot listen there "
                              f"({error.strerror}); choose another --port") from None


def _serve(args) -> int:
    token = args.token or os.environ.get(TOKEN_ENV) or None
    check_binding(args.host, token)
    _check_port_free(args.host, args.port)
    if args.threads:
        torch.set_num_threads(args.threads)
    limits = Limits(max_chars=args.max_chars, max_batch=args.max_batch,
                    max_new_tokens=args.max_new_tokens, max_body_bytes=args.max_body_kb * 1024,
                    max_queue=args.max_queue)
    models = load_models(args.runs, CORNER_LOADERS)
    app = build_app(models, limits, token, local_only=is_local(args.host))
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"lmlab serve: {', '.join(f'{m.name} ({m.kind})' for m in models.values())} on "
          f"http://{shown}:{args.port} (playground /, API /docs"
          f"{', token required' if token else ''})", flush=True)
    serve(app, args.host, args.port, args.log_level)
    return 0


def add_commands(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve run folders over HTTP (JSON API and a browser playground)",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="RUN",
                        help="run folder, or NAME=FOLDER (default name: the folder's)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; any other needs a token)")
    parser.add_argument("--port", type=positive_int, default=8000)
    parser.add_argument("--token", help=f"required on every request (default: ${TOKEN_ENV})")
    parser.add_argument("--max-chars", type=positive_int, default=Limits.max_chars,
                        help="characters per input text")
    parser.add_argument("--max-batch", type=positive_int, default=Limits.max_batch,
                        help="texts per request")
    parser.add_argument("--max-new-tokens", type=positive_int, default=Limits.max_new_tokens,
                        help="max_new_tokens of /generate at most")
    parser.add_argument("--max-body-kb", type=positive_int, default=Limits.max_body_bytes // 1024,
                        help="request body size in KiB")
    parser.add_argument("--max-queue", type=positive_int, default=Limits.max_queue,
                        help="requests waiting for the model at once; more get 503")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch CPU threads (default: PyTorch's)")
    parser.add_argument("--log-level", default="info", choices=["warning", "info", "debug"],
                        help="uvicorn's log; info prints one line per request")
    parser.set_defaults(run=_serve)
