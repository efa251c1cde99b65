"""Every `sstcast ...` command shown in README.md and docs/*.md parses against the real CLI.

The commands are read from the fenced code blocks of the documentation (shell continuations
with a trailing backslash joined, comments dropped, `&&`/`;`/`|` chains split, a `$ ` prompt,
`VAR=value` prefixes and a path such as `.venv/bin/sstcast` allowed) and checked through
click's introspection of the typer app, without running anything: the subcommand exists,
every option is one of that command's options (or a global one before the subcommand), an
option that takes a value has one, and the positional arguments fit the command. Placeholder
values (`FILES`, `<time>`, `N`) are fine: values are not converted.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer

from sstcast.cli import app

REPO = Path(__file__).resolve().parents[1]
#: Code blocks in these languages hold no shell commands (Python, configuration files).
NOT_SHELL = {"python", "py", "pycon", "yaml", "yml", "json", "toml", "ini", "cfg"}
FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
#: Commands that run another command given later on their line (`srun sstcast train ...`,
#: `torchrun ... -m sstcast.cli train ...`).
LAUNCHERS = {"srun", "torchrun", "mpirun", "time", "nohup", "env", "exec"}


@dataclass(frozen=True)
class DocCommand:
    """One `sstcast` invocation found in a documentation file."""

    file: str
    line: int
    args: tuple[str, ...]  # the words after `sstcast`

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: sstcast {' '.join(self.args)}"


def doc_files(root: Path = REPO) -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def shell_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, logical line) of every shell-like fenced code block, with
    backslash continuations joined."""
    out: list[tuple[int, str]] = []
    fence: str | None = None
    shell = False
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence, shell = match.group(1), match.group(2).lower() not in NOT_SHELL
            continue
        if line.strip().startswith(fence[0] * len(fence)) and line.strip().strip(fence[0]) == "":
            fence, pending = None, ""
            continue
        if not shell:
            continue
        if not pending:
            start = number
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        out.append((start, pending + stripped))
        pending = ""
    return out


def split_words(line: str) -> list[str] | None:
    """Shell words of a line without its comment; None when it does not split (unbalanced
    quotes: prose or program output, not a command)."""
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        return list(lexer)
    except ValueError:
        return None


def _is_sstcast(word: str) -> bool:
    return word == "sstcast" or word.endswith("/sstcast")


def sstcast_args(words: list[str]) -> list[str] | None:
    """The arguments after `sstcast` when this simple command runs sstcast: directly
    (after `VAR=value` prefixes), through a launcher (`srun ... sstcast`) or as a module
    (`python -m sstcast.cli`); None otherwise."""
    while words and ENV_ASSIGNMENT.match(words[0]):
        words = words[1:]
    if not words:
        return None
    if _is_sstcast(words[0]):
        return words[1:]
    first = words[0].rsplit("/", 1)[-1]
    if first in LAUNCHERS or first.startswith("python"):
        for i, word in enumerate(words[1:], start=1):
            if _is_sstcast(word):
                return words[i + 1 :]
            if word == "-m" and i + 1 < len(words) and words[i + 1] in ("sstcast", "sstcast.cli"):
                return words[i + 2 :]
    return None


def commands_in(line: str) -> list[list[str]]:
    """The argument lists of the `sstcast` invocations on one shell line."""
    words = split_words(line.removeprefix("$ ").strip())
    if not words:
        return []
    found: list[list[str]] = []
    current: list[str] = []
    for word in [*words, ";"]:
        if word and set(word) <= set(";&|"):
            args = sstcast_args(current)
            if args is not None:
                found.append(args)
            current = []
        else:
            current.append(word)
    return found


def collect(root: Path = REPO) -> list[DocCommand]:
    """Every `sstcast` command line in the documentation."""
    found = []
    for path in doc_files(root):
        for number, line in shell_lines(path.read_text(encoding="utf-8")):
            for args in commands_in(line):
                found.append(DocCommand(str(path.relative_to(root)), number, tuple(args)))
    return found


#: The help options of every command (the app's ``help_option_names``).
HELP = ("-h", "--help")


def _options(command: Any) -> dict[str, Any]:
    """Option name (``--lead``, ``--no-maps``, ``-q``) -> its click parameter."""
    table: dict[str, Any] = {}
    for param in command.params:
        if param.param_type_name == "option":
            for name in [*param.opts, *param.secondary_opts]:
                table[name] = param
    return table


def _arguments(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "argument"]


def _takes_value(option: Any) -> bool:
    return not (option.is_flag or option.count)


def _consume_options(
    args: list[str], options: dict[str, Any], where: str, stop_at_word: bool
) -> tuple[list[str], int]:
    """Walk ``args``: check each option and skip its value; collect positional words.
    With ``stop_at_word`` stop at the first positional word (the group's subcommand)."""
    positional: list[str] = []
    i = 0
    while i < len(args):
        word = args[i].strip("[]")
        if word == "--":
            positional.extend(args[i + 1 :])
            return positional, len(args)
        if word.startswith("-") and not re.fullmatch(r"-\d[\d.]*", word) and word != "-":
            name, has_inline_value = (word.split("=", 1)[0], True) if "=" in word else (word, False)
            option = options.get(name)
            if option is None:
                raise AssertionError(
                    f"{where}: no option {name!r}; it has {', '.join(sorted(options))}"
                )
            if _takes_value(option) and not has_inline_value:
                nargs = max(option.nargs, 1)
                values = args[i + 1 : i + 1 + nargs]
                if len(values) < nargs or any(v.startswith("--") for v in values):
                    raise AssertionError(f"{where}: option {name} needs a value")
                i += nargs
            i += 1
            continue
        if stop_at_word:
            return positional, i
        positional.append(word)
        i += 1
    return positional, i


def check_command(args: tuple[str, ...] | list[str]) -> None:
    """Raise AssertionError naming the problem when ``sstcast ARGS`` would not parse.

    Typer builds a click command tree (recent typer vendors click as ``typer._click``, so
    its classes are not ``click``'s): ``group.commands`` and each command's ``params``."""
    group = typer.main.get_command(app)
    args = list(args)
    if any(w.strip("[]") in HELP for w in args):
        return
    _, i = _consume_options(args, _options(group), "sstcast", stop_at_word=True)
    rest = args[i:]
    if not rest:
        return  # `sstcast`, `sstcast --version`
    name, rest = rest[0], rest[1:]
    command = group.commands.get(name)
    if command is None:
        raise AssertionError(f"no command {name!r}; commands: {', '.join(sorted(group.commands))}")
    where = f"sstcast {name}"
    options = _options(command)
    positional, _ = _consume_options(rest, options, where, stop_at_word=False)
    arguments = _arguments(command)
    extra = command.allow_extra_args or command.context_settings.get("allow_extra_args", False)
    unlimited = extra or any(a.nargs == -1 for a in arguments)
    capacity = sum(max(a.nargs, 0) for a in arguments)
    needed = sum(max(a.nargs, 1) for a in arguments if a.required)
    if not unlimited and len(positional) > capacity:
        raise AssertionError(f"{where}: unexpected arguments {positional[capacity:]}")
    if len(positional) < needed:
        missing = [a.metavar or a.name.upper() for a in arguments if a.required][len(positional) :]
        raise AssertionError(f"{where}: missing argument {', '.join(missing)}")


DOC_COMMANDS = collect()


def test_the_docs_show_commands() -> None:
    """The extraction finds the commands (a broken extractor must not pass vacuously)."""
    assert len(DOC_COMMANDS) >= 40, [str(c) for c in DOC_COMMANDS]
    shown = {c.args[0] for c in DOC_COMMANDS if c.args}
    assert {"sample", "ingest", "train", "forecast", "evaluate", "maps", "models"} <= shown
    quickstart = [c for c in DOC_COMMANDS if c.file == "docs/quickstart.md"]
    assert {c.args[0] for c in quickstart} >= {"sample", "ingest", "train", "forecast"}


@pytest.mark.parametrize("command", DOC_COMMANDS, ids=str)
def test_doc_command_parses(command: DocCommand) -> None:
    check_command(command.args)


def test_the_checker_rejects_what_the_cli_rejects() -> None:
    """The checker itself: bad commands, options, values and argument counts fail."""
    check_command(["forecast", "--region", "bohai", "--no-maps", "--lead", "10"])
    check_command(["-q", "ingest", "--files", "a.nc", "b.nc", "--bbox=37,41,117.5,122.5"])
    check_command(["evaluate", "runs/bohai/convlstm/<time>/forecast_test.nc"])
    bad = [
        (["fly"], "no command 'fly'"),
        (["train", "--region", "bohai", "--gpus", "4"], "no option '--gpus'"),
        (["forecast", "--lead"], "needs a value"),
        (["forecast", "--lead", "--no-maps"], "needs a value"),
        (["evaluate"], "missing argument"),
        (["maps", "a.nc", "b.nc"], "unexpected arguments"),
        (["--region", "bohai", "train"], "no option '--region'"),
    ]
    for args, message in bad:
        with pytest.raises(AssertionError, match=re.escape(message)):
            check_command(args)


def test_extraction_joins_continuations_and_splits_chains() -> None:
    text = "\n".join(
        [
            "```bash",
            "OMP_NUM_THREADS=1 sstcast train --region bohai \\",
            "    --max-time 1   # a smoke run",
            "sstcast ingest sample_taxibj && .venv/bin/sstcast models --grid 32x32",
            "$ sstcast sample --out 'my data'",
            "echo sstcast evaluate",
            "srun --ntasks=1 sstcast forecast --run x",
            "torchrun --nnodes 2 -m sstcast.cli train --num-nodes 2",
            "```",
            "```python",
            "sstcast.fit('x')",
            "```",
            "```",
            "error: run `sstcast sample` then",
            "```",
        ]
    )
    found = [(n, args) for n, line in shell_lines(text) for args in commands_in(line)]
    assert found == [
        (2, ["train", "--region", "bohai", "--max-time", "1"]),
        (4, ["ingest", "sample_taxibj"]),
        (4, ["models", "--grid", "32x32"]),
        (5, ["sample", "--out", "my data"]),
        (7, ["forecast", "--run", "x"]),
        (8, ["train", "--num-nodes", "2"]),
    ]


LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def test_doc_links_resolve() -> None:
    """Every relative Markdown link in README.md and docs/ names a file that exists."""
    broken = []
    for path in doc_files():
        for target in LINK.findall(path.read_text(encoding="utf-8")):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
                continue
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(REPO)}: {target}")
    assert not broken, broken
