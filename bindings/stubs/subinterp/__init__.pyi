"""Type stubs for the builtin ``subinterp`` module that every interpreter run
by the subinterp Go runtime has (PEP 554's API, with channels that live in Go
memory), and its PEP 734 drop-in ``subinterp.interpreters``. Put
bindings/stubs on your editor's or type checker's stub path (e.g. mypy's
``mypy_path``, pyright's ``stubPath``)."""

from types import TracebackType
from typing import Any, Final, Iterator, Mapping, Sequence, final

class Interpreter:
    """An interpreter of this process. Compare by id.
    subinterp.interpreters.Interpreter extends it (one object serves both)."""

    def __new__(cls, id: int, /) -> Interpreter:
        """The object for an existing interpreter (InterpreterNotFoundError
        if there is none)."""

    @property
    def id(self) -> int: ...
    @property
    def isolated(self) -> bool:
        """Whether it has its own GIL (runs in parallel with the others)."""
    def is_running(self) -> bool: ...
    def close(self) -> None:
        """End it. RuntimeError if it is running, the current or the main one."""
    def run(self, src: str, /, *, channels: Mapping[str, RecvChannel | SendChannel] | None = None) -> None:
        """Run src in its __main__ on its own thread and wait (the caller's
        GIL released). Raises RunFailedError (cause: RemoteError) if src
        raised, RuntimeError if it is already running or gone."""

def get_current() -> Interpreter: ...
def get_main() -> Interpreter: ...
def list_all() -> list[Interpreter]:
    """Every live interpreter, the main one first."""
def create(*, isolated: bool = True) -> Interpreter:
    """A new interpreter on its own OS thread. isolated=False: legacy
    settings, sharing the main interpreter's GIL."""
def is_shareable(obj: object) -> bool:
    """Whether obj can be sent as is (None, bool, int, float, str, bytes,
    tuple/list/dict of those, channel ends)."""

@final
class RecvChannel:
    @property
    def id(self) -> int: ...
    def recv(self, timeout: float | None = None) -> Any:
        """Wait for the next object. TimeoutError after timeout seconds;
        ChannelClosedError once the channel is closed and drained."""
    def recv_nowait(self, default: Any = ...) -> Any:
        """The next object, else default, else ChannelEmptyError."""
    def release(self) -> None: ...
    def close(self, *, force: bool = False) -> None:
        """Close for everyone; ChannelNotEmptyError while objects are queued
        unless force."""
    def __iter__(self) -> Iterator[Any]: ...
    def __next__(self) -> Any: ...
    def __enter__(self) -> RecvChannel: ...
    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None: ...

@final
class SendChannel:
    @property
    def id(self) -> int: ...
    def send(self, obj: object, timeout: float | None = None) -> None:
        """Send and wait until received. TimeoutError: withdrawn, not received."""
    def send_nowait(self, obj: object) -> bool:
        """Queue obj; return whether a receiver was already waiting."""
    def send_buffer(self, obj: Any, timeout: float | None = None) -> None:
        """Send any buffer's bytes, copied once; received as a read-only
        memoryview."""
    def send_buffer_nowait(self, obj: Any) -> bool: ...
    def release(self) -> None: ...
    def close(self, *, force: bool = False) -> None: ...
    def __enter__(self) -> SendChannel: ...
    def __exit__(self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None) -> None: ...

def create_channel(
    *, capacity: int = 0, max_bytes: int = 0, fallback: str | None = None
) -> tuple[RecvChannel, SendChannel]:
    """capacity: queued objects before send blocks (0: unbounded);
    max_bytes: largest encoded object (0: 64 MiB); fallback="pickle":
    pickle objects that are not shareable."""
def list_all_channels() -> list[tuple[RecvChannel, SendChannel]]: ...
def select(channels: Sequence[RecvChannel], timeout: float | None = None) -> tuple[RecvChannel, Any]:
    """Receive from whichever channel has an object first."""

class _HostFunctions:
    def __getattr__(self, name: str) -> Any: ...

host: Final[_HostFunctions]
"""Go functions registered with Runtime.RegisterFunc: host.name(*args)."""

class ChannelError(Exception): ...
class ChannelNotFoundError(ChannelError): ...
class ChannelEmptyError(ChannelError): ...
class ChannelNotEmptyError(ChannelError): ...
class NotReceivedError(ChannelError): ...
class ChannelClosedError(ChannelError): ...
class ChannelFullError(ChannelError): ...
class NotShareableError(ValueError): ...
class RunFailedError(RuntimeError): ...
class InterpreterError(RuntimeError):
    """A cross-interpreter operation failed (PEP 734)."""
class InterpreterNotFoundError(InterpreterError):
    """The interpreter does not exist (closed, or never did)."""
class HostError(RuntimeError): ...

class RemoteError(Exception):
    """An exception raised in another interpreter, described."""

    type_name: str
    message: str
    traceback_text: str
    def __init__(self, type_name: str, message: str, traceback_text: str) -> None: ...
