"""Running a coroutine to completion from plain (sync) code."""

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on an event loop of its own and return its result.

    In this thread when no loop runs here (tests, the CLI); otherwise in a
    helper thread, since a running loop cannot be re-entered. The caller
    waits either way.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(asyncio.run(coroutine))
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=run, name="pamps-run-blocking")
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
    return results[0]
