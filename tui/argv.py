"""Options written before the command (``fitscope --set train.steps=50 run``): argparse gave them
to the app's parser and the command's own defaults then replaced them, so they were dropped
without a word. Each one now goes after the command when the command takes it, and is refused,
by name and with where it goes, when the command does not."""

from __future__ import annotations

import argparse

from fitscope.core.errors import ConfigError


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in parser._actions for s in a.option_strings}


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action.choices, dict):  # the subparsers' action: command name -> its parser
            return action.choices
    return {}


def _long(name: str, options: dict[str, argparse.Action]) -> str | None:
    """The option ``name`` stands for (argparse takes a unique prefix, e.g. ``--ste``)."""
    if name in options:
        return name
    hits = {options[s].dest: s for s in options if s.startswith(name) and s.startswith("--")}
    return next(iter(hits.values())) if len(hits) == 1 else None


def _split(argv: list[str], options: dict[str, argparse.Action],
           commands: dict) -> tuple[int, list[tuple[str, str]]] | None:
    """Where the command is, and the top-level options (name, value) before it; None without one."""
    i, names = 0, list[tuple[str, str]]()
    while i < len(argv):
        token = argv[i]
        if token in commands:
            return i, names
        if token == "--" or not token.startswith("-"):
            return None
        name = _long(token.split("=", 1)[0], options)
        if name is None or options[name].nargs == 0:  # unknown or -h: argparse says so
            return None
        value = token.split("=", 1)[1] if "=" in token else (argv[i + 1] if i + 1 < len(argv) else "")
        names.append((name, value))
        i += 1 if "=" in token else 2
    return None


def place(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """``argv`` with the options before its command moved after it; ConfigError for one the
    command does not take."""
    options, commands = _options(parser), _commands(parser)
    found = _split(argv, options, commands)
    if found is None or found[0] == 0:
        return argv
    at, names = found
    command = argv[at]
    own = _options(commands[command])
    for name, value in names:
        if name not in own:
            takers = [f"fitscope {c} {name} …" for c, p in commands.items() if name in _options(p)]
            raise ConfigError(name, value, f"given before {command}, which takes no {name}; it goes with the app "
                              f"(fitscope {name} …, no command){''.join(', or ' + t for t in takers)}")
    return [command, *argv[:at], *argv[at + 1:]]
