"""The embedded model: Apache httpd with mod_wsgi, the interpreter inside Apache's own worker processes.

mod_wsgi (2007) is mod_python's successor: CPython is embedded in every Apache child, and a request
is handed to the WSGI app by a function call on the worker thread that parsed it, with no socket,
no protocol and no second process between them (embedded mode, `WSGIApplicationGroup %{GLOBAL}`).

Which Python: Debian's `libapache2-mod-wsgi-py3` is linked against the system's Python (/usr/bin/python3),
not loadbench's virtual environment, and Apache refuses to run its children as root, so as root they
run as nobody, who cannot read a virtual environment under /root. The bundled app is stdlib-only, so
each start copies its modules (loadbench/__init__.py, errors.py, app/) and its data files (the static
files and the SQLite world table) into the private run dir, handed to the run user; the system Python
imports them from there. A user's app would need its own packages under the system Python, so this
model serves the bundled app only (the PyPI `mod-wsgi` package's mod_wsgi-express compiles mod_wsgi
against a virtual environment's Python, where that Python is readable: see `loadbench models`).

Options: mpm_event; workers = Apache child processes, each with its own interpreter (default: one per
pinned CPU, else 2); threads = ThreadsPerChild (default 64: with fewer threads than the connections a
child holds, mpm_event resets keep-alive connections), Python threads sharing that child's GIL.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from loadbench.errors import UsageError
from loadbench.results.family import Family
from loadbench.servers.apache import MODULE_DIRS, ApacheModel, config_path, find_module_dir, mpm_directives
from loadbench.servers.base import AppSpec, ServerOptions
from loadbench.servers.external import RUN_USER, run_user
from loadbench.servers.gunicorn import default_workers

DEFAULT_THREADS = 64  # ≥ the connections one child may hold, else mpm_event resets keep-alive ones
SYSTEM_PYTHON = "/usr/bin/python3"
INSTALL_HINT = "apt-get install apache2 libapache2-mod-wsgi-py3"
#: Outside loadbench/app/, the modules the bundled app imports (it is otherwise stdlib-only).
_APP_EXTRAS = ("__init__.py", "errors.py")


def app_files(package: Path) -> list[Path]:
    """The bundled app's modules, relative to the loadbench package: all the system Python needs to
    serve it (every module of loadbench/app/, so a new one is never left behind, plus _APP_EXTRAS)."""
    return [Path(name) for name in _APP_EXTRAS] + sorted(
        path.relative_to(package) for path in (package / "app").glob("*.py")
    )


def wsgi_script(data_dir: Path) -> str:
    """The WSGI script file mod_wsgi loads: the data directory set before the bundled app imports."""
    return (
        "# Written by loadbench for one server start (loadbench/servers/apache_wsgi.py).\n"
        "import os\n"
        f"os.environ['LOADBENCH_CACHE_DIR'] = {str(data_dir)!r}\n"
        "from loadbench.app.wsgi import application  # noqa: E402,F401\n"
    )


def apache_wsgi_config(
    *, run_dir: Path, module_dir: Path, host: str, port: int, workers: int, threads: int,
    user: tuple[str, str] | None,
) -> str:
    """The whole httpd.conf: a private, foreground Apache with mod_wsgi serving RUN_DIR/app.wsgi at /."""
    modules = "".join(
        f"LoadModule {name}_module {module_dir}/mod_{name}.so\n"
        for name in ("mpm_event", "authz_core", "wsgi")
    )
    user_lines = f"User {user[0]}\nGroup {user[1]}\n" if user else ""
    return (
        "# Written by loadbench for one server start (loadbench/servers/apache_wsgi.py); removed at stop.\n"
        f'ServerRoot "{run_dir}"\n'
        f"{modules}"
        f"{user_lines}"
        "ServerName 127.0.0.1\n"
        f"Listen {host}:{port}\n"
        f'PidFile "{run_dir}/httpd.pid"\n'
        f'DefaultRuntimeDir "{run_dir}"\n'
        f"Mutex file:{run_dir} default\n"
        "ErrorLog /dev/stderr\n"
        "LogLevel warn\n"
        f"{mpm_directives('event', workers, threads)}"
        "ListenBacklog 2048\n"
        "KeepAlive On\n"
        "MaxKeepAliveRequests 0\n"
        "KeepAliveTimeout 75\n"
        "Timeout 60\n"
        "ServerTokens Prod\n"
        "TraceEnable Off\n"
        f'WSGISocketPrefix "{run_dir}/wsgi"\n'
        f'WSGIPythonPath "{run_dir}/py"\n'
        "WSGIRestrictEmbedded Off\n"
        "WSGIApplicationGroup %{GLOBAL}\n"
        f'WSGIScriptAlias / "{run_dir}/app.wsgi"\n'
        "<Directory />\n    Options None\n    AllowOverride None\n    Require all denied\n</Directory>\n"
        f'<Directory "{run_dir}">\n    Require all granted\n</Directory>\n'
    )


def _chown_tree(root: Path) -> None:
    """As root, give `root` and everything under it to the run user (a no-op otherwise)."""
    import os
    import pwd

    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(RUN_USER)
    for path in [root, *root.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)


class ApacheWsgiModel(ApacheModel):
    """Apache mpm_event with Debian's mod_wsgi embedding the system Python (bundled app only)."""

    name = "apache-wsgi"
    family = Family.EMBEDDED
    description = "Apache + mod_wsgi (embedded mode): CPython inside each Apache child, system Python"
    install_hint = INSTALL_HINT
    install = "apt-get install apache2 libapache2-mod-wsgi-py3"
    interfaces = ("wsgi",)
    mpm = "event"
    tls_capable = False  # its prepare() writes a plain-HTTP virtual host (mod_wsgi behind TLS: not built)
    http2_capable = False

    def available(self) -> str | None:
        why_not = super().available()
        if why_not is not None:
            return why_not
        module_dir = find_module_dir(self.mpm)
        if module_dir is None or not (module_dir / "mod_wsgi.so").is_file():
            return f"apache-wsgi needs mod_wsgi.so (not in {', '.join(MODULE_DIRS)}); install: {INSTALL_HINT}"
        if not Path(SYSTEM_PYTHON).is_file():
            return (
                f"apache-wsgi needs the system Python mod_wsgi embeds ({SYSTEM_PYTHON}); "
                f"install: {INSTALL_HINT}"
            )
        return None

    def check_app(self, app: AppSpec) -> None:
        if app.kind != "bundled":
            raise UsageError(
                f"apache-wsgi serves the bundled app only (mod_wsgi embeds the system Python, which lacks "
                f"your app's packages), not {app.target!r}; use nginx-uwsgi or gunicorn for your WSGI app"
            )

    def limits(self, opts: ServerOptions) -> tuple[int, int]:
        return default_workers(opts), opts.threads or DEFAULT_THREADS

    def prepare(self, app: AppSpec, opts: ServerOptions, port: int, run_dir: Path) -> list[str]:
        from loadbench.app.data import STATIC_FILES, ensure_static_files, ensure_world_db

        self.check_app(app)
        module_dir = find_module_dir(self.mpm)
        assert module_dir is not None, "launch() checks available() first"
        package = Path(__file__).resolve().parents[1]
        for relative in app_files(package):
            target = run_dir / "py" / "loadbench" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(package / relative, target)
        data_dir = run_dir / "data"
        data_dir.mkdir()
        source = ensure_static_files()
        for name in STATIC_FILES:
            shutil.copyfile(source / name, data_dir / name)
        world = ensure_world_db()
        shutil.copyfile(world, data_dir / world.name)
        (run_dir / "app.wsgi").write_text(wsgi_script(data_dir))
        workers, threads = self.limits(opts)
        config = apache_wsgi_config(
            run_dir=run_dir, module_dir=module_dir, host=opts.bind_host, port=port, workers=workers,
            threads=threads, user=run_user(),
        )
        config_path(run_dir, opts, port).write_text(config)
        _chown_tree(run_dir)
        return self.argv(app, opts, port, run_dir)
