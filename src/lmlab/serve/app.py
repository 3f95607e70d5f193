"""The HTTP app of ``lmlab serve`` (issue 23): FastAPI over the loaded models.

JSON endpoints ``/score``, ``/fill-mask``, ``/generate``, ``/classify``, ``/tag``,
``/answer``, ``/choose``, ``/embed`` (POST; which ones a model has: ``/models``),
``/health``, the OpenAPI page at ``/docs`` and the playground at ``/``. Every error is ``{"error": "<one line>"}`` with a
4xx status (503 when the queue is full): a bad field or a limit 422, an endpoint the model
does not have 400, an unknown model 404, a missing token 401, a too large body 413.

FastAPI and uvicorn are imported inside the functions that need them (DESIGN §2: importing
lmlab stays cheap).
"""

from __future__ import annotations

from importlib import resources

from lmlab.errors import LmlabError
from lmlab.serve.access import Access
from lmlab.serve.limits import (BodyLimit, Gate, Limits, RequestError, check_at_most,
                                check_text, request_texts)
from lmlab.serve.models import ServedModel
from lmlab.serve.schemas import (AnswerRequest, ChooseRequest, ClassifyRequest, EmbedRequest,
                                 FillMaskRequest, GenerateRequest, ScoreRequest, TagRequest)

PLAYGROUND = {"/": ("index.html", "text/html"),
              "/playground.js": ("playground.js", "text/javascript"),
              "/playground.css": ("playground.css", "text/css")}
# The playground loads nothing from elsewhere and runs no inline script.
PLAYGROUND_POLICY = "default-src 'self'; frame-ancestors 'none'; form-action 'none'"


def validation_message(errors: list[dict]) -> str:
    """FastAPI's validation errors as one line naming the first bad field."""
    first = errors[0]
    location = [part for part in first.get("loc", ()) if part != "body"]
    name = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location)
    name = name.lstrip(".") or "request body"
    kind = first.get("type", "")
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        return f"{name}: unknown field (see /docs for this endpoint's fields)"
    if kind == "json_invalid" or (kind == "dataclass_type" and name == "request body"):
        return "request body: expected a JSON object, e.g. {\"model\": \"NAME\", \"text\": \"...\"}"
    if kind == "missing":
        return f"{name}: required"
    return f"{name}: {first.get('msg', 'invalid')}"


def check_options(endpoint: str, request, limits: Limits) -> None:
    """The per-endpoint numbers a request may not raise past this server's limits."""
    if endpoint == "fill-mask":
        if request.top_k < 1:
            raise RequestError(422, f"top_k: must be >= 1, got {request.top_k}")
        check_at_most("top_k", request.top_k, limits.max_top_k, "")
    elif endpoint == "generate":
        check_at_most("max_new_tokens", request.max_new_tokens, limits.max_new_tokens,
                      "--max-new-tokens")
        check_at_most("num_beams", request.num_beams, limits.max_beams, "")
    elif endpoint == "embed":
        if request.neighbors < 0:
            raise RequestError(422, f"neighbors: must be >= 0, got {request.neighbors}")
        check_at_most("neighbors", request.neighbors, limits.max_top_k, "")


def check_reading(endpoint: str, request, limits: Limits) -> None:
    """/answer and /choose: each text within ``--max-chars``, /choose's choices within
    ``--max-batch``."""
    check_text("question", request.question, limits)
    if endpoint == "answer":
        check_text("context", request.context, limits)
        return
    if request.context:
        check_text("context", request.context, limits)
    if len(request.choices) < 2:
        raise RequestError(422, f"choices: {len(request.choices)} given; give at least 2")
    if len(request.choices) > limits.max_batch:
        raise RequestError(422, f"choices: {len(request.choices)}, more than this server's "
                                f"limit of {limits.max_batch} (lmlab serve --max-batch)")
    for index, choice in enumerate(request.choices):
        check_text(f"choices[{index}]", choice, limits)


def find_model(models: dict[str, ServedModel], name: str, endpoint: str) -> ServedModel:
    if name not in models:
        raise RequestError(404, f"model: {name!r} is not served here (models: "
                                f"{', '.join(models)})")
    served = models[name]
    if endpoint not in served.handlers:
        has = ", ".join(f"/{e}" for e in served.describe()["endpoints"])
        raise RequestError(400, f"model: {name!r} is a {served.kind} model and has no "
                                f"/{endpoint}; its endpoints: {has}")
    return served


def build_app(models: dict[str, ServedModel], limits: Limits = Limits(), token: str | None = None,
              local_only: bool = True):
    """The ASGI app; ``token``: required on every request when set; ``local_only``: answer
    only requests addressed to this machine (a server bound to 127.0.0.1)."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException

    limits.validate()
    gate = Gate(limits.max_queue)
    app = FastAPI(title="lmlab serve", description="Language models of lmlab run folders over "
                  "HTTP: score, fill-mask, generate, classify, tag, answer, choose, embed "
                  "(issue 23).")

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    app.add_exception_handler(RequestError, lambda _, e: error(e.status, e.message))
    app.add_exception_handler(LmlabError, lambda _, e: error(
        422, (str(e) or type(e).__name__).splitlines()[0]))
    app.add_exception_handler(RequestValidationError,
                              lambda _, e: error(422, validation_message(e.errors())))
    app.add_exception_handler(HTTPException,
                              lambda r, e: error(e.status_code, f"{r.url.path}: {e.detail}"))
    app.add_exception_handler(Exception, lambda _, e: error(
        500, f"internal error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"))

    async def call(served: ServedModel, endpoint: str, texts: list[str], request) -> list[dict]:
        gate.enter()  # 503 when max_queue requests are inside already
        try:
            return await run_in_threadpool(
                gate.call, lambda: served.handlers[endpoint](texts, request))
        finally:
            gate.leave()

    async def answer(endpoint: str, request) -> dict:
        served = find_model(models, request.model, endpoint)
        texts = request_texts(request.text, request.texts, limits)
        check_options(endpoint, request, limits)
        results = await call(served, endpoint, texts, request)
        if request.text is not None:
            return {"model": served.name, **results[0]}
        return {"model": served.name, "results": results}

    @app.post("/score", summary="Perplexity and per-token log-probabilities")
    async def score(request: ScoreRequest) -> dict:
        return await answer("score", request)

    @app.post("/fill-mask", summary="Candidates and probabilities for each [MASK]")
    async def fill_mask(request: FillMaskRequest) -> dict:
        return await answer("fill-mask", request)

    @app.post("/generate", summary="Generated text")
    async def generate(request: GenerateRequest) -> dict:
        return await answer("generate", request)

    @app.post("/classify", summary="Label and class probabilities")
    async def classify(request: ClassifyRequest) -> dict:
        return await answer("classify", request)

    @app.post("/tag", summary="One tag per word")
    async def tag(request: TagRequest) -> dict:
        return await answer("tag", request)

    async def read(endpoint: str, request) -> dict:
        """/answer and /choose: one question per request (no ``text``/``texts``)."""
        served = find_model(models, request.model, endpoint)
        check_reading(endpoint, request, limits)
        (result,) = await call(served, endpoint, [], request)
        return {"model": served.name, **result}

    @app.post("/answer", summary="The answer span of a question in a context (span QA)")
    async def answer_question(request: AnswerRequest) -> dict:
        return await read("answer", request)

    @app.post("/choose", summary="Each choice's probability (multiple choice)")
    async def choose(request: ChooseRequest) -> dict:
        return await read("choose", request)

    @app.post("/embed", summary="A word's or a text's vector")
    async def embed(request: EmbedRequest) -> dict:
        return await answer("embed", request)

    @app.get("/models", summary="Each model: name, kind, endpoints")
    async def list_models() -> dict:
        return {"models": [served.describe() for served in models.values()],
                "limits": dict(limits.__dict__)}

    @app.get("/health", summary="Liveness, and how many requests are inside")
    async def health() -> dict:
        return {"status": "ok", "models": len(models), "queued": gate.inside}

    def static(name: str, media: str):
        async def page():  # unannotated: Response is imported in build_app, not here
            body = resources.files("lmlab.serve").joinpath("playground", name).read_bytes()
            return Response(body, media_type=f"{media}; charset=utf-8",
                            headers={"content-security-policy": PLAYGROUND_POLICY,
                                     "x-content-type-options": "nosniff"})
        return page

    for path, (name, media) in PLAYGROUND.items():
        app.add_api_route(path, static(name, media), methods=["GET"], include_in_schema=False)
    app.add_api_route("/favicon.ico", lambda: Response(status_code=204), methods=["GET"],
                      include_in_schema=False)  # browsers ask; no icon, no 404 in the console

    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.add_middleware(Access, token=token, local_only=local_only)  # outermost: first check
    return app


def serve(app, host: str, port: int, log_level: str = "info") -> None:
    """Run ``app`` with uvicorn until interrupted (``info``: one access line per request)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level)
