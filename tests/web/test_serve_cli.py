"""`fitscope serve` on the command line: where it listens and what it says (no browser here)."""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import sys
from pathlib import Path

from fitscope.tui import cli

from support.procs import wait_until
from support.webpage import START, free_port


def start(tmp_path, *args: str) -> tuple[subprocess.Popen, object]:
    out = tmp_path / "out.txt"
    with open(out, "wb") as sink:
        server = subprocess.Popen([sys.executable, "-m", "fitscope.tui.cli", "serve", *args], cwd=tmp_path,
                                  stdout=sink, stderr=subprocess.STDOUT)
    return server, out


def lines_once_listening(server: subprocess.Popen, out, port: int) -> list[str]:
    def listening():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return server.poll() is not None  # ended: nothing will listen
        return True
    wait_until(listening, START, f"the server listening on {port}")
    assert server.poll() is None, out.read_text()
    return out.read_text().splitlines()


def listening_on(port: int) -> list[str]:
    """The addresses a socket listens on at ``port``, from the kernel's tables (Linux)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # each 32-bit word little-endian
                found.append(str(ipaddress.ip_address(words)))
    return found


def stop(server: subprocess.Popen) -> int:
    server.terminate()
    return server.wait(15)


def test_it_listens_on_this_machine_only_and_says_how_to_reach_it_over_ssh(tmp_path):
    port = free_port()
    server, out = start(tmp_path, "--port", str(port))
    try:
        lines = lines_once_listening(server, out, port)
        bound = listening_on(port)
    finally:
        code = stop(server)
    assert lines[0] == f"fitscope serve: the app on http://localhost:{port}/ (each page opened starts its own app; " \
                       "Ctrl+C stops the server and them)"
    assert f"ssh -L {port}:localhost:{port} " in lines[1]
    assert bound == ["127.0.0.1"]  # no other interface, IPv6 neither
    assert code == 0  # SIGTERM: a clean stop


def test_listening_elsewhere_warns_that_anyone_who_reaches_it_drives_the_app(tmp_path):
    port = free_port()
    server, out = start(tmp_path, "--host", "0.0.0.0", "--port", str(port))
    try:
        lines = lines_once_listening(server, out, port)
        bound = listening_on(port)
    finally:
        stop(server)
    assert bound == ["0.0.0.0"]
    assert f"anyone who can reach port {port} here drives the app" in lines[1]
    assert "ssh -L" in lines[1]  # and the safer way


def test_a_taken_port_is_said_in_one_line_before_anything_starts(capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code = cli.main(["serve", "--port", str(port)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == f"fitscope: --port: {port} is not valid — 127.0.0.1:{port} is taken (Address already in use); " \
                  "choose another port\n"


def test_without_textual_serve_it_names_the_extra_in_one_line(monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "fitscope.tui.web_server", raising=False)
    monkeypatch.setitem(sys.modules, "textual_serve", None)  # import textual_serve raises ImportError
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)
    code = cli.main(["serve"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1
    assert 'pip install -e ".[web]"' in err


def test_the_app_command_passes_its_arguments_through_whole():
    from fitscope.tui.serve_cmd import app_command

    line = app_command(["--vary", "model.activation=relu,tanh", "runs/it's here"])
    assert line.startswith("exec ")  # the app is the server's own child, not a shell's
    assert line.endswith(" -m fitscope.tui.cli --vary model.activation=relu,tanh 'runs/it'\"'\"'s here'")
