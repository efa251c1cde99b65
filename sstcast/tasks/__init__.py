"""Tasks: what differs between forecasting SST fields and TaxiBJ crowd flows.

``get_task(pipeline)`` (or a task name) returns the :class:`~sstcast.tasks.base.Task` object;
everything else in sstcast is written against that protocol.
"""

from __future__ import annotations

from typing import Any

from sstcast.errors import ConfigError
from sstcast.tasks.base import Task, TaskData
from sstcast.tasks.sst import SstTask
from sstcast.tasks.taxibj import TaxiBJTask

TASKS: dict[str, type] = {SstTask.name: SstTask, TaxiBJTask.name: TaxiBJTask}


def get_task(which: Any) -> Task:
    """The task object for a pipeline (its ``task`` key) or a task name."""
    name = getattr(which, "task", which)
    if name not in TASKS:
        raise ConfigError(f"task {name!r}: unknown; use one of {', '.join(TASKS)}")
    return TASKS[name]()


__all__ = ["TASKS", "SstTask", "Task", "TaskData", "TaxiBJTask", "get_task"]
