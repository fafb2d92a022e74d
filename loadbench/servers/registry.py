"""Server models by the names users type (loadbench.plugins.SERVER_MODELS), imported only when asked for.

Listing names (for click help and choices) imports nothing; get_model() imports one module.
"""

from __future__ import annotations

from loadbench.errors import UsageError
from loadbench.plugins import SERVER_MODELS, load_plugin
from loadbench.servers.base import ServerModel

MODELS = SERVER_MODELS


def model_names() -> list[str]:
    """Every known model name, in the registry's order (no import)."""
    return list(MODELS)


def get_model(name: str) -> ServerModel:
    """The model called `name`; UsageError listing the known names (and a close match) otherwise."""
    spec = MODELS.get(name)
    if spec is None:
        import difflib

        close = difflib.get_close_matches(name, MODELS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"unknown server model {name!r}{hint}; known models: {', '.join(MODELS)}")
    model: ServerModel = load_plugin(spec)()  # type: ignore[operator]
    return model


def all_models() -> list[ServerModel]:
    """One instance of every model, in the registry's order."""
    return [get_model(name) for name in MODELS]


def tls_models(*, http2: bool = False) -> list[str]:
    """Names of the models that can terminate TLS (and speak HTTP/2 over it, with `http2`)."""
    return [m.name for m in all_models() if (m.http2_capable if http2 else m.tls_capable)]


def check_tls_support(model: ServerModel, *, tls: bool, http2: bool) -> None:
    """UsageError (one line, listing the models that can) when `model` cannot serve what is asked."""
    if http2 and not model.http2_capable:
        can = ", ".join(tls_models(http2=True))
        raise UsageError(f"{model.name} cannot serve HTTP/2; models that can: {can}")
    if tls and not model.tls_capable:
        raise UsageError(f"{model.name} cannot terminate TLS; models that can: {', '.join(tls_models())}")


def unix_socket_models() -> list[str]:
    """Names of the models that can listen on a Unix socket (serve --unix-socket, unix_socket = true)."""
    return [m.name for m in all_models() if m.unix_socket_capable]


def check_unix_socket_support(model: ServerModel) -> None:
    """UsageError (one line, listing the models that can) when `model` cannot listen on a Unix socket."""
    if not model.unix_socket_capable:
        raise UsageError(f"{model.name} cannot listen on a Unix socket; models that can: "
                         f"{', '.join(unix_socket_models())}")
