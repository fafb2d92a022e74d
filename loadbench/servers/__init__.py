"""Server models: start the app under waitress, gunicorn, uvicorn, ... as guarded processes on 127.0.0.1.

Light to import: the models and psutil load only when used (see registry.py).
"""

from __future__ import annotations

from loadbench.servers.base import AppSpec, ServerModel, ServerOptions
from loadbench.servers.registry import all_models, get_model, model_names

__all__ = ["AppSpec", "ServerModel", "ServerOptions", "all_models", "get_model", "model_names"]
