"""What both config files share: strict pydantic models and the YAML reader."""

from __future__ import annotations

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
    _check_keys(data, path, "")
    return data


def _check_keys(node: Any, path: Path, where: str) -> None:
    """Every mapping key must be a string (``1: x`` is a typo, not a setting)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                raise ConfigError(f"{path}: {where}{key!r}: keys must be names, not numbers")
            _check_keys(value, path, f"{where}{key}.")
    elif isinstance(node, list):
        for item in node:
            _check_keys(item, path, where)


def first_error(path: Path, err: ValidationError) -> ConfigError:
    e = err.errors()[0]
    where = ".".join(str(p) for p in e["loc"]) or "(top level)"
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown key"
    return ConfigError(f"{path}: {where}: {msg}")
