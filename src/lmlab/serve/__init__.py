"""``lmlab serve``: lmlab run folders over HTTP, with a browser playground (issue 23)."""

from lmlab.serve.app import build_app, serve
from lmlab.serve.limits import Limits, RequestError
from lmlab.serve.models import ENDPOINTS, ServedModel, load_models

__all__ = ["ENDPOINTS", "Limits", "RequestError", "ServedModel", "build_app", "load_models",
           "serve"]
