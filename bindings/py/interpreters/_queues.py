"""PEP 734 queues on subinterp's Go-memory channels.

A Queue is a channel created with the queue's maxsize as its capacity and
the pickle fallback: put() queues (waiting for room, never for a receiver),
get() receives, and both wake the other side directly instead of polling.
Each item travels as (putter's interpreter id, unbound policy, obj), so a
receiver can tell an item whose interpreter was destroyed, and qsize() can
drop the UNBOUND_REMOVE items of destroyed interpreters (the Go side reads
that prefix of the encoding: bindings/channels.go, removable).
"""

import queue as _queue
import time
import weakref

import subinterp as _si
from . import _crossinterp
from ._crossinterp import UNBOUND_ERROR, UNBOUND_REMOVE

__all__ = [
    'UNBOUND', 'UNBOUND_ERROR', 'UNBOUND_REMOVE',
    'create', 'list_all',
    'Queue',
    'QueueError', 'QueueNotFoundError', 'QueueEmpty', 'QueueFull',
    'ItemInterpreterDestroyed',
]


class QueueError(RuntimeError):
    """Indicates that a queue-related error happened."""


class QueueNotFoundError(QueueError):
    """The queue does not exist (any more)."""


class QueueEmpty(QueueError, _queue.Empty):
    """Raised from get_nowait() when the queue is empty.

    It is also raised from get() if it times out.
    """


class QueueFull(QueueError, _queue.Full):
    """Raised from put_nowait() when the queue is full.

    It is also raised from put() if it times out.
    """


class ItemInterpreterDestroyed(QueueError, _crossinterp.ItemInterpreterDestroyed):
    """Raised from get() and get_nowait()."""


UNBOUND = _crossinterp.UnboundItem.singleton('queue', __name__)

_DEFAULT = -1  # the queue's own policy

# This module is imported anew in every interpreter: the id of the one it
# runs in is a constant here (put() and get() need it for every item).
_CURRENT_ID = _si._current_id()


def _serialize_unbound(unbound):
    if unbound is UNBOUND:
        unbound = _crossinterp.UNBOUND
    return _crossinterp.serialize_unbound(unbound)


def _resolve_unbound(flag):
    resolved = _crossinterp.resolve_unbound(flag, ItemInterpreterDestroyed)
    if resolved is _crossinterp.UNBOUND:
        resolved = UNBOUND
    return resolved


def _timeout(timeout):
    """None, or seconds >= 0 (fractions kept: subinterp's waits are exact)."""
    if timeout is None:
        return None
    if not isinstance(timeout, (int, float)):
        raise TypeError(f'timeout must be a number or None, not {type(timeout).__name__}')
    if timeout < 0 or timeout != timeout:
        raise ValueError('timeout value must be non-negative')
    return timeout


def create(maxsize=0, *, syncobj=False, unbounditems=UNBOUND):
    """Return a new cross-interpreter queue.

    The queue may be used to pass data safely between interpreters.
    maxsize <= 0 means unbounded. "unbounditems" sets the default for
    Queue.put(); see that method for supported values. "syncobj" (CPython
    3.13's queues): True makes put() refuse objects that are not shareable
    by default, instead of pickling them.
    """
    if not isinstance(maxsize, int):
        raise TypeError(f'maxsize must be an int, not {type(maxsize).__name__}')
    flag, = _serialize_unbound(unbounditems)
    r, s = _si.create_channel(capacity=max(maxsize, 0), fallback='pickle', _tag=flag)
    try:
        q = Queue._from_ends(r.id, r, s)
        q._maxsize = maxsize
        q._syncobj = bool(syncobj)
        return q
    finally:
        # The Queue holds its own bindings now.
        r.release()
        s.release()


def list_all():
    """Return a list of all open queues."""
    queues = []
    for r, s in _crossinterp.list_tagged(_crossinterp.is_queue_tag):
        try:
            queues.append(Queue._from_ends(r.id, r, s))
        except _si.ChannelError:
            pass  # closed since it was listed
        finally:
            r.release()
            s.release()
    return queues


_known_queues = weakref.WeakValueDictionary()


class Queue:
    """A cross-interpreter queue: one object per id in each interpreter."""

    _shared_by_id = True  # is_shareable(): it travels by id

    def __new__(cls, id, /):
        if not isinstance(id, int):
            raise TypeError(f'id must be an int, got {id!r}')
        id = int(id)
        try:
            return _known_queues[id]
        except KeyError:
            pass
        try:
            r, s = _si._channel_ends(id)
        except _si.ChannelError:
            raise QueueNotFoundError(f'queue {id} not found') from None
        try:
            return cls._from_ends(id, r, s)
        finally:
            r.release()
            s.release()

    @classmethod
    def _from_ends(cls, id, r, s):
        try:
            return _known_queues[id]
        except KeyError:
            pass
        capacity, flag, _ = _si._channel_info(id)
        if not _crossinterp.is_queue_tag(flag):
            raise QueueNotFoundError(f'channel {id} is not a queue')
        self = super().__new__(cls)
        # Our own bindings, independent of the caller's ends.
        self._recv, self._send = _si._channel_ends(id)
        self._id = id
        self._maxsize = capacity
        self._flag = flag
        self._syncobj = False
        _known_queues[id] = self
        return self

    def __repr__(self):
        return f'{type(self).__name__}({self.id})'

    def __hash__(self):
        return hash(self._id)

    def __eq__(self, other):
        if not isinstance(other, Queue):
            return NotImplemented
        return self._id == other._id

    # Pickled by id, as CPython does: the receiver gets its own Queue object.
    def __reduce__(self):
        return (type(self), (self._id,))

    @property
    def id(self):
        return self._id

    @property
    def unbounditems(self):
        return _resolve_default(self._flag)

    @property
    def maxsize(self):
        return self._maxsize

    def empty(self):
        return self.qsize() == 0

    def full(self):
        return self._maxsize > 0 and self.qsize() >= self._maxsize

    def qsize(self):
        try:
            return self._recv._qsize()
        except _si.ChannelError as exc:
            raise QueueNotFoundError(str(exc)) from None

    def _item(self, obj, unbounditems, syncobj):
        if unbounditems is None:
            flag = _DEFAULT
        else:
            flag, = _serialize_unbound(unbounditems)
        if syncobj is None:
            syncobj = self._syncobj
        if syncobj and not _is_shareable(obj):
            raise _si.NotShareableError(f'{type(obj).__name__} object is not shareable')
        return (_CURRENT_ID, flag, obj)

    def put(self, obj, block=True, timeout=None, *, unbounditems=None, syncobj=None, unbound=None):
        """Add the object to the queue.

        If "block" is true, this waits while the queue is full, up to
        "timeout" seconds (then QueueFull); it never waits for a receiver.
        Objects that are not shareable are pickled; NotShareableError if
        that fails too.

        "unbounditems" says what get() gives for this item if the calling
        interpreter is destroyed first: UNBOUND (returned in its place),
        UNBOUND_ERROR (ItemInterpreterDestroyed) or UNBOUND_REMOVE (the item
        is skipped). None: the queue's default (see create()).

        CPython 3.13's keywords work too: "unbound" for "unbounditems", and
        "syncobj" (True: refuse objects that are not shareable).
        """
        if unbounditems is None:
            unbounditems = unbound
        if not block:
            return self.put_nowait(obj, unbounditems=unbounditems, syncobj=syncobj)
        if timeout is not None:
            timeout = _timeout(timeout)
        if unbounditems is None and syncobj is None and not self._syncobj:
            item = (_CURRENT_ID, _DEFAULT, obj)  # the common case, without _item()
        else:
            item = self._item(obj, unbounditems, syncobj)
        try:
            self._send._put(item, timeout)
        except TimeoutError:
            raise QueueFull('queue is full') from None
        except _si.ChannelClosedError as exc:
            raise QueueNotFoundError(str(exc)) from None
        except _si.ChannelNotFoundError as exc:
            raise QueueNotFoundError(str(exc)) from None

    def put_nowait(self, obj, *, unbounditems=None, syncobj=None, unbound=None):
        """Add the object to the queue, or raise QueueFull."""
        if unbounditems is None:
            unbounditems = unbound
        item = self._item(obj, unbounditems, syncobj)
        try:
            self._send.send_nowait(item)
        except _si.ChannelFullError:
            raise QueueFull('queue is full') from None
        except (_si.ChannelClosedError, _si.ChannelNotFoundError) as exc:
            raise QueueNotFoundError(str(exc)) from None

    def get(self, block=True, timeout=None):
        """Return the next object from the queue.

        If "block" is true, this waits while the queue is empty, up to
        "timeout" seconds (then QueueEmpty). An item whose interpreter was
        destroyed is resolved by its "unbounditems" (see put()).
        """
        if not block:
            return self.get_nowait()
        deadline = None
        if timeout is not None:
            # Items skipped (UNBOUND_REMOVE) must not stretch the wait.
            deadline = time.monotonic() + _timeout(timeout)
        while True:
            if deadline is not None:
                timeout = max(0.0, deadline - time.monotonic())
            try:
                interpid, flag, obj = self._recv.recv(timeout)
            except TimeoutError:
                raise QueueEmpty('queue is empty') from None
            except (_si.ChannelClosedError, _si.ChannelNotFoundError) as exc:
                raise QueueNotFoundError(str(exc)) from None
            if interpid == _CURRENT_ID or _interp_exists(interpid):
                return obj  # the common case, without _resolve()
            found, obj = self._resolve((interpid, flag, obj))
            if found:
                return obj

    def get_nowait(self):
        """Return the next object from the queue, or raise QueueEmpty."""
        while True:
            try:
                item = self._recv.recv_nowait(_EMPTY)
            except (_si.ChannelClosedError, _si.ChannelNotFoundError) as exc:
                raise QueueNotFoundError(str(exc)) from None
            if item is _EMPTY:
                raise QueueEmpty('queue is empty')
            found, obj = self._resolve(item)
            if found:
                return obj

    def _resolve(self, item):
        interpid, flag, obj = item
        if interpid == _CURRENT_ID or _interp_exists(interpid):
            return True, obj
        if flag == _DEFAULT:
            flag = self._flag
        if flag == _crossinterp._UNBOUND_CONSTANT_TO_FLAG[UNBOUND_REMOVE]:
            return False, None
        return True, _resolve_unbound(flag)


_EMPTY = object()
_interp_exists = _si._interp_exists


def _is_shareable(obj):
    from . import is_shareable
    return is_shareable(obj)


def _resolve_default(flag):
    op = _crossinterp._UNBOUND_FLAG_TO_CONSTANT[flag]
    return UNBOUND if op is _crossinterp.UNBOUND else op
