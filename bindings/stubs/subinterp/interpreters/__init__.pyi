"""PEP 734's interpreters API (CPython 3.14's concurrent.interpreters) on
subinterp: ``from subinterp import interpreters``."""

import threading
from types import SimpleNamespace
from typing import Any, Callable, Mapping, TypeVar

import concurrent.futures

import subinterp
from subinterp import InterpreterError as InterpreterError
from subinterp import InterpreterNotFoundError as InterpreterNotFoundError
from subinterp import NotShareableError as NotShareableError

from ._queues import Queue as Queue, QueueEmpty as QueueEmpty, QueueFull as QueueFull
from ._queues import create as create_queue

_T = TypeVar("_T")

class ExcInfo:
    """A snapshot of an exception raised in another interpreter."""

    type: SimpleNamespace  # __name__, __qualname__, __module__
    msg: str
    formatted: str
    errdisplay: str

class ExecutionFailed(InterpreterError):
    """An unhandled exception happened in Interpreter.exec() or .call()."""

    excinfo: ExcInfo
    def __init__(self, excinfo: ExcInfo) -> None: ...

class Interpreter(subinterp.Interpreter):
    """A single Python interpreter: one object per id in each interpreter."""

    def __new__(cls, id: int, /) -> Interpreter: ...
    @property
    def whence(self) -> str:
        """'runtime init' (main), '_interpreters module' (made by Python) or 'C-API' (made by Go)."""
    def prepare_main(self, ns: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Bind values in its __main__ (shared, or pickled)."""
    def exec(self, code: str | Callable[[], object], /) -> None:
        """Run code in its __main__; ExecutionFailed on an uncaught exception."""
    def call(self, callable: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        """Call callable(*args, **kwargs) there and return the result."""
    def call_in_thread(self, callable: Callable[..., object], /, *args: Any, **kwargs: Any) -> threading.Thread:
        """Call it from a new thread; the result and exceptions are discarded."""

def create() -> Interpreter:
    """A new interpreter with its own GIL, on its own OS thread."""
def list_all() -> list[Interpreter]: ...
def get_current() -> Interpreter: ...
def get_main() -> Interpreter: ...
def is_shareable(obj: object) -> bool:
    """Whether obj passes without pickling (subinterp's shareable values,
    channel ends, queues)."""

class InterpreterPoolExecutor(concurrent.futures.Executor):
    """A concurrent.futures.Executor whose workers are interpreters."""

    def __init__(
        self,
        max_workers: int | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None: ...
    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[_T]: ...
    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None: ...
