"""The Apache models: real Apache httpd (mpm_event by default) serving the bundled app's static files.

/static/<file> comes from a copy of the app's files; /health, /plaintext and /json are files holding the
app's bodies, served with the app's Content-Types (ForceType). Like nginx, it has no Python behind it:
/io, /cpu and /db answer 404.

Each start runs a private Apache: `apache2 -f RUN_DIR/httpd-HOST-PORT.conf -DFOREGROUND` (the name shows
in `ps` which instance listens where) with a config that loads
only the modules it needs from the system's module directory and keeps every file it writes (pid file,
mutexes, runtime dir) in the run dir; the error log goes to stderr, which the launcher sends to the
server's log file. It runs as the current user; as root, its children run as nobody.

Options: `apache` (mpm_event): workers = StartServers = ServerLimit (default 2), threads = ThreadsPerChild
(default 64). `apache-worker` (mpm_worker) takes the same options; `apache-prefork` (one request per
process) takes workers only (default 16).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from loadbench.results.family import Family
from loadbench.servers.base import AppSpec, ServerOptions
from loadbench.servers.external import (
    SBIN_DIRS,
    ExternalModel,
    fixed_responses,
    run_user,
    share_run_dir,
    write_docroot,
)

if TYPE_CHECKING:
    from loadbench.servers.certs import TlsFiles

#: Where distributions keep Apache's modules (Debian/Ubuntu, Fedora/RHEL 64-bit, others).
MODULE_DIRS = ("/usr/lib/apache2/modules", "/usr/lib64/httpd/modules", "/usr/lib/httpd/modules")
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 64
DEFAULT_PREFORK_WORKERS = 16


def config_path(run_dir: Path, opts: ServerOptions, port: int) -> Path:
    """Where the config goes: named after the address it listens on."""
    return run_dir / f"httpd-{opts.bind_host}-{port}.conf"


def find_module_dir(mpm: str) -> Path | None:
    """The first of MODULE_DIRS holding mod_mpm_<mpm>.so, or None."""
    for directory in MODULE_DIRS:
        if (Path(directory) / f"mod_mpm_{mpm}.so").is_file():
            return Path(directory)
    return None


def mpm_directives(mpm: str, workers: int, threads: int) -> str:
    """Process and thread limits: exactly `workers` processes (never more, never fewer), `threads` each.

    Spare-thread limits are set so Apache neither kills nor adds processes during a measurement.
    """
    if mpm == "prefork":
        return (
            f"StartServers {workers}\nServerLimit {workers}\nMaxRequestWorkers {workers}\n"
            f"MinSpareServers 1\nMaxSpareServers {workers}\nMaxConnectionsPerChild 0\n"
        )
    total = workers * threads
    # event: idle keep-alive connections wait on the listener thread, not a worker; a process takes
    # ThreadsPerChild + AsyncRequestWorkerFactor x idle workers connections (default factor 2, so ~75
    # per process); a high factor lets a C10K sweep's idle connections in, as the MPM is designed to.
    factor = "AsyncRequestWorkerFactor 1000\n" if mpm == "event" else ""
    return (
        f"StartServers {workers}\nServerLimit {workers}\nThreadLimit {threads}\nThreadsPerChild {threads}\n"
        f"MaxRequestWorkers {total}\nMinSpareThreads 1\nMaxSpareThreads {total + threads}\n"
        f"MaxConnectionsPerChild 0\n{factor}"
    )


def apache_config(
    *, run_dir: Path, docroot: Path, module_dir: Path, host: str, port: int, mpm: str, workers: int,
    threads: int, user: tuple[str, str] | None, tls: TlsFiles | None = None, http2: bool = False,
) -> str:
    """The whole httpd.conf: a private, foreground Apache on host:port, writing only under `run_dir`.

    `tls`: terminate TLS (mod_ssl) with that certificate; `http2`: offer HTTP/2 too (mod_http2, ALPN h2).
    """
    names = [f"mpm_{mpm}", "authz_core", "mime"]
    names += (["socache_shmcb", "ssl"] if tls is not None else []) + (["http2"] if http2 else [])
    modules = "".join(f"LoadModule {name}_module {module_dir}/mod_{name}.so\n" for name in names)
    tls_lines = (
        "SSLEngine on\n"
        f'SSLCertificateFile "{tls.cert}"\n'
        f'SSLCertificateKeyFile "{tls.key}"\n'
        f'SSLSessionCache "shmcb:{run_dir}/ssl_scache(512000)"\n'
        "SSLProtocol -all +TLSv1.2 +TLSv1.3\n"
    ) if tls is not None else ""  # fmt: skip
    if http2:
        tls_lines += "Protocols h2 http/1.1\n"
    types = "".join(
        f'<Location "{answer.path}">\n    ForceType {answer.content_type}\n</Location>\n'
        for answer in fixed_responses()
    )
    user_lines = f"User {user[0]}\nGroup {user[1]}\n" if user else ""
    return (
        "# Written by loadbench for one server start (loadbench/servers/apache.py); removed when it stops.\n"
        f'ServerRoot "{run_dir}"\n'
        f"{modules}"
        f"{user_lines}"
        "ServerName 127.0.0.1\n"
        "TypesConfig /dev/null\n"  # every path served has its type set below
        f"Listen {host}:{port}\n"
        f"{tls_lines}"
        f'PidFile "{run_dir}/httpd.pid"\n'
        f'DefaultRuntimeDir "{run_dir}"\n'
        f"Mutex file:{run_dir} default\n"
        "ErrorLog /dev/stderr\n"
        "LogLevel warn\n"
        f"{mpm_directives(mpm, workers, threads)}"
        "ListenBacklog 2048\n"
        "KeepAlive On\n"
        "MaxKeepAliveRequests 0\n"
        "KeepAliveTimeout 75\n"
        "Timeout 60\n"
        "EnableSendfile On\n"
        "ServerTokens Prod\n"
        "TraceEnable Off\n"
        f'DocumentRoot "{docroot}"\n'
        "<Directory />\n    Options None\n    AllowOverride None\n    Require all denied\n</Directory>\n"
        # FollowSymLinks spares a lstat() per path component on every request.
        f'<Directory "{docroot}">\n    Options FollowSymLinks\n    AllowOverride None\n'
        "    Require all granted\n</Directory>\n"
        f"{types}"
        '<Location "/static/">\n    ForceType application/octet-stream\n</Location>\n'
    )


class ApacheModel(ExternalModel):
    """Apache httpd with mpm_event: threads per process, keep-alive connections parked in an event loop."""

    name = "apache"
    family = Family.EXTERNAL_MPM_EVENT
    description = "real Apache httpd, mpm_event: worker threads + an event loop for idle keep-alive (static)"
    binaries = ("apache2", "httpd")
    install_hint = "apt-get install apache2"
    unprofiled_reason: str | None = (
        "Apache httpd is written in C and its workers run no Python: py-spy reads a CPython interpreter's "
        "frames, and these processes have none (a Python embedded by mod_wsgi, or a CGI interpreter that "
        "lives for one request, is out of py-spy's reach too)"
    )
    mpm = "event"
    tls_capable = True
    http2_capable = True  # mod_http2; not under prefork

    def available(self) -> str | None:
        why_not = super().available()
        if why_not is None and find_module_dir(self.mpm) is None:
            return (
                f"{self.name} needs mod_mpm_{self.mpm}.so, not found in {', '.join(MODULE_DIRS)}; "
                f"install it: {self.install_hint}"
            )
        return why_not

    def argv(self, app: AppSpec, opts: ServerOptions, port: int, run_dir: Path) -> list[str]:
        binary = self.binary() or f"{SBIN_DIRS[0]}/{self.binaries[0]}"
        return [binary, "-f", str(config_path(run_dir, opts, port)), "-DFOREGROUND"]

    def limits(self, opts: ServerOptions) -> tuple[int, int]:
        """(processes, threads per process) for these options."""
        return opts.workers or DEFAULT_WORKERS, opts.threads or DEFAULT_THREADS

    def prepare(self, app: AppSpec, opts: ServerOptions, port: int, run_dir: Path) -> list[str]:
        self.check_app(app)
        module_dir = find_module_dir(self.mpm)
        assert module_dir is not None, "launch() checks available() first"
        workers, threads = self.limits(opts)
        config = apache_config(
            run_dir=run_dir, docroot=write_docroot(run_dir, fixed_files=True), module_dir=module_dir,
            host=opts.bind_host, port=port, mpm=self.mpm, workers=workers, threads=threads, user=run_user(),
            tls=opts.tls_files, http2=opts.http2,
        )
        config_path(run_dir, opts, port).write_text(config)
        share_run_dir(run_dir)
        return self.argv(app, opts, port, run_dir)


class ApacheWorkerModel(ApacheModel):
    """Apache httpd with mpm_worker: threads per process, each thread holds its connection."""

    name = "apache-worker"
    family = Family.EXTERNAL_MPM_WORKER
    description = "real Apache httpd, mpm_worker: a thread per connection, in a few processes (static)"
    mpm = "worker"


class ApachePreforkModel(ApacheModel):
    """Apache httpd with mpm_prefork: one single-threaded process per connection."""

    name = "apache-prefork"
    family = Family.EXTERNAL_MPM_PREFORK
    description = "real Apache httpd, mpm_prefork: one process per connection (static)"
    mpm = "prefork"
    http2_capable = False  # mod_http2 does not run under prefork

    def limits(self, opts: ServerOptions) -> tuple[int, int]:
        return opts.workers or DEFAULT_PREFORK_WORKERS, 1
