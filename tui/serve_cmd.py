"""`fitscope serve [--host H] [--port P] [ARGS…]`: the app in a browser, through textual-serve.

textual-serve (the optional ``[web]`` extra) starts one app process per page opened, with Textual's
web driver speaking over the process's stdin and stdout; the app's arguments (``--config``,
``--vary``, a run folder…) go to every one of them. The app ends when its page or this server
goes (tui/web_exit.py).
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import shlex
import socket
import sys

from fitscope.core.errors import ConfigError

MISSING = 'fitscope serve: textual-serve is not installed — install the web extra: pip install -e ".[web]" ' \
          "(or pip install textual-serve)"
USAGE = "fitscope serve [--host HOST] [--port PORT] [ARGS…]"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # noqa: D401 - argparse's hook
        self.exit(2, f"fitscope serve: error: {message} (usage: {USAGE})\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fitscope serve", allow_abbrev=False, add_help=False)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", default="8000")
    return p


def port_of(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigError("--port", text, "expected a whole number from 1 to 65535")
    return int(text)


def check_host(host: str, port: int) -> None:
    """A host this machine can listen on: an address or a name that resolves."""
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError("--host", host, f"not an address or name this machine can listen on ({exc}); expected e.g. "
                          "127.0.0.1 (this machine only, the default), 0.0.0.0 (every interface) or a host name") \
            from None


def check_listen(host: str, port: int) -> None:
    """Listen once, here, so a taken port or a foreign address is said before the start-up lines."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        socket.create_server((host, port), family=family).close()
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError("--port", port, f"{host}:{port} is taken ({why}); choose another port") from None
        raise ConfigError("--host", host, f"cannot listen there ({why}); expected an address of this "
                          "machine, e.g. 127.0.0.1 (the default) or 0.0.0.0 (every interface)") from None


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_command(app_args: list[str]) -> str:
    """The shell line textual-serve runs per page: `exec`, so the app is the server's own child
    (the process it stops and the one whose parent going ends it), not a shell's."""
    return "exec " + shlex.join([sys.executable, "-m", "fitscope.tui.cli", *app_args])


def check_app_args(app_args: list[str]) -> None:
    """What the app would refuse, said here before serving rather than in a blank page."""
    from fitscope.tui import cli
    from fitscope.tui.precheck import precheck

    args = cli.make_parser().parse_args(app_args)  # a bad option: argparse's one line, exit 2
    if args.command is not None:
        raise ConfigError("serve", args.command, "serve runs the app: give the app's own arguments "
                          f"(--config, --vary, a run folder…), not a command (usage: {USAGE})")
    spec = cli.load_spec(args)
    if args.open:
        args.resume = args.open
        spec = cli._resumed_spec(args)
    elif args.vary or args.seeds != "1":
        spec = cli.race_spec(spec.base, args, [])
    precheck(spec)


def banner(host: str, port: int) -> list[str]:
    name = "localhost" if loopback(host) else socket.gethostname() if host in ("0.0.0.0", "::") else host
    lines = [f"fitscope serve: the app on http://{name}:{port}/ "
             "(each page opened starts its own app; Ctrl+C stops the server and them)"]
    if loopback(host):
        lines.append(f"  from another machine: ssh -L {port}:localhost:{port} {socket.gethostname()}   "
                     f"then open http://localhost:{port}/")
    else:
        lines.append(f"  warning: listening on {host}: anyone who can reach port {port} here drives the app "
                     "(trains, saves and writes files as you); the default 127.0.0.1 with ssh -L is safer")
    return lines


def add_parser(sub) -> None:
    """`fitscope serve --help` (the command line itself is read by :func:`own_args`)."""
    serve = sub.add_parser("serve", help="the app in a browser, through textual-serve (needs the [web] extra)",
                           description="Serve the app over HTTP: each page opened runs its own app with ARGS (the "
                                       "app's own: --config, --vary, a run folder…) and ends when its page or the "
                                       "server goes. Listens on 127.0.0.1; reach it from another machine with "
                                       "ssh -L 8000:localhost:8000 HOST. Needs textual-serve: pip install -e \".[web]\".")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1, this machine "
                       "only; another lets anyone who reaches the port drive the app)")
    serve.add_argument("--port", default="8000", help="the port, 1 to 65535 (default: 8000)")
    serve.add_argument("app_args", nargs=argparse.REMAINDER, metavar="ARGS", help="the app's arguments")


def own_args(argv: list[str]) -> argparse.Namespace | None:
    """`fitscope serve …`: its options, then the app's, passed on whole (argparse would refuse the
    app's options as serve's own); None for any other command line, and for serve's --help."""
    if argv[:1] == ["serve"] and not {"-h", "--help"} & set(argv):
        return argparse.Namespace(command="serve", serve_argv=argv[1:])
    return None


def run(args: argparse.Namespace) -> int:
    if not hasattr(args, "serve_argv"):  # `fitscope --steps 5 serve`: parsed by the app's parser
        raise ConfigError("serve", "options before serve", f"give the app's arguments after serve: {USAGE}")
    return serve(args.serve_argv)


def serve(argv: list[str]) -> int:
    """Serves until Ctrl+C or SIGTERM; a bad option or app argument raises ConfigError (cli.main
    says it in one line, exit 2)."""
    try:
        from fitscope.tui.web_server import Server
    except ImportError:
        print(MISSING, file=sys.stderr)
        return 2
    opts, app_args = parser().parse_known_args(argv)
    port = port_of(opts.port)
    check_host(opts.host, port)
    check_app_args(app_args)
    check_listen(opts.host, port)
    server = Server(app_command(app_args), host=opts.host, port=port, title="fitscope",
                    lines=banner(opts.host, port))
    try:
        server.serve()
    except OSError as exc:  # the port taken, an address not of this machine
        print(f"fitscope serve: cannot listen on {opts.host}:{port}: {exc.strerror or exc}; "
              "choose another --port or --host", file=sys.stderr)
        return 2
    return 0
