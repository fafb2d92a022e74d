"""What the external (non-Python) server models share: finding the binary, the document root, the run user.

nginx and Apache are started by launch() like every other model, with one difference: they need files
(a config, a document root) before they start. Such a model sets `needs_run_dir` and defines
`prepare(app, opts, port, run_dir)`, which launch() calls with a fresh private directory (mode 0700,
removed when the server stops, and by the guard when loadbench dies) and which returns the command line.
See ExternalModel.

As root, the servers' workers drop to an unprivileged user (nobody), which must read the document root:
the private directory is then handed to that user (chown) rather than opened to everyone.
"""

from __future__ import annotations

import os
import pwd
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loadbench.errors import UsageError
from loadbench.servers.base import AppSpec, ModelBase, ServerOptions

if TYPE_CHECKING:
    from loadbench.servers.process import ServerProcess

#: Paths the bundled app answers with a fixed body, which the static servers answer the same way.
FIXED_PATHS = ("/health", "/plaintext", "/json")
#: Also searched for server binaries: Debian installs nginx and apache2 in /usr/sbin, often not in PATH.
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
RUN_USER = "nobody"  # whom workers run as when loadbench runs as root


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedResponse:
    """A bundled-app answer a static server reproduces: URL path, body, Content-Type."""

    path: str
    body: bytes
    content_type: str


def fixed_responses() -> tuple[FixedResponse, ...]:
    """The bundled app's own /health, /plaintext and /json answers (asked of the app: they cannot drift)."""
    from loadbench.app.endpoints import Endpoints, Response

    endpoints = Endpoints(delay_us=0)
    answers = []
    for path in FIXED_PATHS:
        response = endpoints.route("GET", path, "")
        assert isinstance(response, Response) and response.status == 200, path
        content_type = dict(response.headers)["Content-Type"]
        answers.append(FixedResponse(path=path, body=response.body, content_type=content_type))
    return tuple(answers)


def find_binary(names: tuple[str, ...]) -> str | None:
    """The first of `names` found in PATH or in SBIN_DIRS, as an absolute path; None when none is."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *SBIN_DIRS])
    for name in names:
        found = shutil.which(name, path=search)
        if found:
            return str(Path(found).resolve())
    return None


def run_user() -> tuple[str, str] | None:
    """(user, group) the workers run as when we are root (nobody and its primary group); None otherwise."""
    if os.geteuid() != 0:
        return None
    import grp

    entry = pwd.getpwnam(RUN_USER)
    return entry.pw_name, grp.getgrgid(entry.pw_gid).gr_name


def share_run_dir(run_dir: Path) -> None:
    """As root, give the private run dir to the run user so its workers can read it; a no-op otherwise."""
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(RUN_USER)
    os.chown(run_dir, entry.pw_uid, entry.pw_gid)


def write_docroot(run_dir: Path, *, fixed_files: bool) -> Path:
    """Copy the bundled app's static files to RUN_DIR/htdocs/static/ (and, with `fixed_files`, write the
    fixed answers as files htdocs/health, htdocs/plaintext, htdocs/json); return htdocs.

    Copies, not links: the app's cache dir may sit in a home directory the workers cannot enter.
    """
    from loadbench.app.data import STATIC_FILES, ensure_static_files

    source = ensure_static_files()
    docroot = run_dir / "htdocs"
    static = docroot / "static"
    static.mkdir(parents=True, exist_ok=True)
    for directory in (docroot, static):
        directory.chmod(0o755)
    for name in STATIC_FILES:
        shutil.copyfile(source / name, static / name)
        (static / name).chmod(0o644)
    if fixed_files:
        for answer in fixed_responses():
            target = docroot / answer.path.lstrip("/")
            target.write_bytes(answer.body)
            target.chmod(0o644)
    return docroot


class ExternalModel(ModelBase):
    """A model whose server is a system binary configured by files written into the run dir.

    Subclasses set `binaries` (names to look for), `install_hint` and write `argv` and `prepare`.
    `command()` shows the command line with "{run_dir}" in place of the private directory (pure).
    """

    binaries: tuple[str, ...] = ()
    install_hint: str = ""
    needs_run_dir = True
    serves_import_apps = False  # True when a Python server behind the binary can serve the user's app

    @property
    def install_command(self) -> str:
        if self.install:
            return self.install
        return " && ".join(c for c in (self.install_hint, super().install_command) if c)

    def binary(self) -> str | None:
        """The server binary's absolute path, or None when it is not installed."""
        return find_binary(self.binaries)

    def available(self) -> str | None:
        if self.binary() is None:
            where = f"{', '.join(self.binaries)} in PATH and {', '.join(SBIN_DIRS)}"
            return (
                f"{self.name} needs {self.binaries[0]}, which is not installed (looked for {where}); "
                f"install it: {self.install_hint}"
            )
        return super().available()

    def argv(self, app: AppSpec, opts: ServerOptions, port: int, run_dir: Path) -> list[str]:
        raise NotImplementedError

    def command(self, app: AppSpec, opts: ServerOptions, port: int) -> list[str]:
        self.check_app(app)
        return self.argv(app, opts, port, Path("{run_dir}"))

    def prepare(self, app: AppSpec, opts: ServerOptions, port: int, run_dir: Path) -> list[str]:
        """Write the config and document root into `run_dir`; return the command line (launch calls it)."""
        raise NotImplementedError

    def check_app(self, app: AppSpec) -> None:
        """Refuse apps this model cannot serve: static servers serve the bundled app's files only."""
        if app.kind == "bundled":
            return
        if app.kind == "import" and self.serves_import_apps:
            self.app_target(app)
            return
        raise UsageError(
            f"{self.name} serves the bundled app's static files and fixed answers only, not {app.target!r}; "
            "use nginx-gunicorn for your WSGI app, or the 'command' model to run your own server config"
        )

    def start(self, app: AppSpec, opts: ServerOptions) -> ServerProcess:
        self.check_app(app)
        if app.kind == "import":
            return super().start(app, opts)  # detects the app's face before anything starts
        from loadbench.servers.process import launch

        return launch(self, app, opts)
