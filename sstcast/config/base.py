"""What both config files share: strict pydantic models, the YAML reader, error messages."""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from sstcast.errors import ConfigError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping with string keys; one-line errors for a missing file, a folder, a
    binary or non-UTF-8 file, broken YAML, or keys that are not names."""
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (binary or not UTF-8)") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    problems: list[str] = []
    _check_keys(data, "", problems)
    if problems:
        raise problems_error(path, problems)
    return data


def _check_keys(node: Any, where: str, problems: list[str]) -> None:
    """Every mapping key must be a string (``1: x`` is a typo, not a setting)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                problems.append(f"{where}{key!r}: keys must be names, not numbers")
                continue
            _check_keys(value, f"{where}{key}.", problems)
    elif isinstance(node, list):
        for item in node:
            _check_keys(item, where, problems)


def problems_error(path: Path | str, problems: list[str]) -> ConfigError:
    """One problem: ``"<path>: <problem>"``. Several: a first line naming the file and how
    many, then one indented line per problem, so that a file is fixed in one go."""
    if len(problems) == 1:
        return ConfigError(f"{path}: {problems[0]}")
    lines = "\n".join(f"  {p}" for p in problems)
    return ConfigError(f"{path}: {len(problems)} problems\n{lines}")


# --------------------------------------------------------------------------------------
# Keys of a model, for error messages and command-line overrides
# --------------------------------------------------------------------------------------
def section_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds (``SplitConfig | None`` -> SplitConfig), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [m for a in typing.get_args(annotation) if (m := section_model(a)) is not None]
        return models[0] if len(models) == 1 else None
    return None


def mapping_value(annotation: Any) -> tuple[bool, Any]:
    """(True, value annotation) when a field is a ``dict[str, X]`` (any keys allowed)."""
    if typing.get_origin(annotation) is dict:
        args = typing.get_args(annotation)
        return True, args[1] if len(args) == 2 else Any
    return False, None


def field_names(model: type[BaseModel]) -> list[str]:
    """The keys a section takes, as written in a file (``root`` is set by the loader)."""
    return [name for name in model.model_fields if name != "root"]


def unknown_key(key: str, model: type[BaseModel], where: str | None = None) -> str:
    """``unknown key (did you mean 'epochs'?); valid: ...`` for ``key`` in ``model``;
    with ``where`` (``"in trainer"``, ``"at the top level"``) the key and where are named."""
    valid = field_names(model)
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    named = f" {key!r} {where}" if where is not None else ""
    return f"unknown key{named}{hint}; valid: {', '.join(valid)}"


def _key_path(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[list[str], Any]:
    """The part of a pydantic error location that is a key path of the file, and the model
    (or None) at its end: the tags pydantic adds for the members of a union
    (``tuple[str, str]``, ``float``) and tuple positions are dropped."""
    path: list[str] = []
    node: Any = model
    for part in loc:
        if isinstance(node, type) and issubclass(node, BaseModel):
            path.append(str(part))
            field = node.model_fields.get(str(part))
            if field is None:
                return path, node  # an unknown key of this section
            is_map, value = mapping_value(field.annotation)
            node = ("map", value) if is_map else section_model(field.annotation)
        elif isinstance(node, tuple) and node[0] == "map":
            path.append(str(part))
            node = section_model(node[1])
        else:
            break
    return path, None


def validation_problems(model: type[BaseModel], err: ValidationError) -> list[str]:
    """Every problem of a pydantic error as ``"key.path: what is wrong"``, one per key path
    (the failed members of a union are one problem)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    parents: dict[str, Any] = {}
    for e in err.errors():
        path, parent = _key_path(model, tuple(e["loc"]))
        where = ".".join(path) or "(top level)"
        grouped.setdefault(where, []).append(e)
        parents.setdefault(where, parent)
    problems = []
    for where, errors in grouped.items():
        first = errors[0]
        if first["type"] == "extra_forbidden":
            parent = parents[where]
            key = where.rsplit(".", 1)[-1]
            msg = unknown_key(key, parent) if parent is not None else "unknown key"
        elif first["type"] == "missing":
            msg = "required (missing)"
        else:
            msgs = list(dict.fromkeys(e["msg"].removeprefix("Value error, ") for e in errors))
            if len(msgs) == 1:
                msg = msgs[0]
            else:  # the members of a union: the value as given, and why each member failed
                value = min(errors, key=lambda e: len(e["loc"])).get("input")
                msg = f"{value!r} is not valid: " + "; ".join(m[0].lower() + m[1:] for m in msgs)
        problems.append(f"{where}: {msg}")
    return problems


def validation_error(path: Path | str, model: type[BaseModel], err: ValidationError) -> ConfigError:
    """A :class:`ConfigError` naming ``path`` and every problem of ``err``."""
    return problems_error(path, validation_problems(model, err))
