"""The names users type for each kind of plug-in, and where each one lives ("module:attribute").

This table is the one registry line a new server model, engine backend or report format adds. It sits at
the bottom of the layers and imports nothing, so the scenario validator and the CLI's choices can list
names without importing a single plug-in; each package's own registry (servers.registry,
engine.registry, report.registry) imports the one module a name points to, when it is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

SERVER_MODELS: Mapping[str, str] = {
    "waitress": "loadbench.servers.waitress:WaitressModel",
    "gunicorn": "loadbench.servers.gunicorn:GunicornModel",
    "gunicorn-gthread": "loadbench.servers.gunicorn:GunicornGthreadModel",
    "gunicorn-gevent": "loadbench.servers.gunicorn:GunicornGeventModel",
    "uvicorn": "loadbench.servers.uvicorn:UvicornModel",
    "hypercorn": "loadbench.servers.hypercorn:HypercornModel",
    "nginx": "loadbench.servers.nginx:NginxModel",
    "nginx-gunicorn": "loadbench.servers.nginx:NginxGunicornModel",
    "nginx-uvicorn": "loadbench.servers.nginx:NginxUvicornModel",
    "apache": "loadbench.servers.apache:ApacheModel",
    "apache-worker": "loadbench.servers.apache:ApacheWorkerModel",
    "apache-prefork": "loadbench.servers.apache:ApachePreforkModel",
    "uwsgi": "loadbench.servers.uwsgi:UwsgiModel",
    "nginx-uwsgi": "loadbench.servers.nginx_hop:NginxUwsgiModel",
    "nginx-fastcgi": "loadbench.servers.nginx_hop:NginxFastcgiModel",
    "nginx-scgi": "loadbench.servers.nginx_hop:NginxScgiModel",
    "cgi": "loadbench.servers.cgi:CgiModel",
    "apache-wsgi": "loadbench.servers.apache_wsgi:ApacheWsgiModel",
    "granian": "loadbench.servers.granian:GranianModel",
    "granian-wsgi": "loadbench.servers.granian:GranianWsgiModel",
    "command": "loadbench.servers.command:CommandModel",
}

REPORT_FORMATS: Mapping[str, str] = {
    "html": "loadbench.report.html:HTML",
    "md": "loadbench.report.markdown:MARKDOWN",
    "csv": "loadbench.report.csv_export:CSV",
    "json": "loadbench.report.json_export:JSON",
    "bencher": "loadbench.report.bencher:BENCHER",
    "github-benchmark": "loadbench.report.github_benchmark:GITHUB_BENCHMARK",
    "hgrm": "loadbench.report.hgrm:HGRM",
}

ENGINE_BACKENDS: Mapping[str, str] = {
    "native": "loadbench.engine.native.backend:NativeBackend",
    "locust": "loadbench.engine.locust.backend:LocustBackend",
    "httpx": "loadbench.engine.httpx_backend:HttpxBackend",
}

#: The server model (in SERVER_MODELS) of a scenario whose [app] runs its own server command.
COMMAND_MODEL = "command"


def load_plugin(spec: str) -> object:
    """Import "module:attribute" and return the attribute."""
    module_name, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
