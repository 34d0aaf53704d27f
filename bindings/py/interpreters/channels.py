"""CPython's cross-interpreter channels (its test.support.channels module,
3.13's test.support.interpreters.channels) on subinterp's Go-memory
channels, with the unbound-item policy of PEP 734 queues.

Channel ends here wrap subinterp's own ends (RecvChannel.end,
SendChannel.end); blocking calls wake directly, never poll.
"""

import subinterp as _si
from subinterp import (
    ChannelError, ChannelNotFoundError, ChannelClosedError,
    ChannelEmptyError, ChannelNotEmptyError,
)
from . import _crossinterp
from ._crossinterp import UNBOUND_ERROR, UNBOUND_REMOVE

__all__ = [
    'UNBOUND', 'UNBOUND_ERROR', 'UNBOUND_REMOVE',
    'create', 'list_all',
    'SendChannel', 'RecvChannel',
    'ChannelError', 'ChannelNotFoundError', 'ChannelEmptyError',
    'ChannelClosedError', 'ChannelNotEmptyError',
    'ItemInterpreterDestroyed',
]


class ItemInterpreterDestroyed(ChannelError, _crossinterp.ItemInterpreterDestroyed):
    """Raised from recv() and recv_nowait()."""


UNBOUND = _crossinterp.UnboundItem.singleton('queue', __name__)

_DEFAULT = -1
_REMOVE = _crossinterp._UNBOUND_CONSTANT_TO_FLAG[UNBOUND_REMOVE]
_TAG_BASE = _crossinterp.CHANNEL_TAG_BASE


def _serialize_unbound(unbound):
    if unbound is UNBOUND:
        unbound = _crossinterp.UNBOUND
    return _crossinterp.serialize_unbound(unbound)


def _resolve_unbound(flag):
    resolved = _crossinterp.resolve_unbound(flag, ItemInterpreterDestroyed)
    if resolved is _crossinterp.UNBOUND:
        resolved = UNBOUND
    return resolved


def create(*, unbounditems=UNBOUND):
    """Return (recv, send) for a new cross-interpreter channel.

    "unbounditems" sets the default for the send end of the channel (see
    SendChannel.send()); UNBOUND by default.
    """
    flag, = _serialize_unbound(unbounditems)
    r, s = _si.create_channel(fallback='pickle', _tag=_TAG_BASE + flag)
    return RecvChannel._wrap(r), SendChannel._wrap(s)


def list_all():
    """Return a list of (recv, send) for all open channels (queues are not
    channels: subinterp.interpreters.queues lists those)."""
    return [(RecvChannel._wrap(r), SendChannel._wrap(s))
            for r, s in _crossinterp.list_tagged(_crossinterp.is_channel_tag)]


def _flag_of(cid):
    try:
        tag = _si._channel_info(cid)[1]
    except ChannelError:
        tag = 0
    return tag - _TAG_BASE if tag > _TAG_BASE else _crossinterp._UNBOUND_CONSTANT_TO_FLAG[_crossinterp.UNBOUND]


class _ChannelEnd:
    """The base class for RecvChannel and SendChannel."""

    _index = None
    _shared_by_id = True  # is_shareable(): it travels by id

    def __new__(cls, cid):
        # As in CPython, an end object may name a channel that does not
        # exist (yet): using it raises ChannelNotFoundError.
        if not isinstance(cid, int):
            raise TypeError(f'id must be an int, got {cid!r}')
        if cid < 0:
            raise ValueError(f'id must be a non-negative int, got {cid!r}')
        self = object.__new__(cls)
        self._id = int(cid)
        self._bound = None
        return self

    @classmethod
    def _wrap(cls, end):
        self = object.__new__(cls)
        self._id = end.id
        self._bound = end
        return self

    @property
    def _end(self):
        if self._bound is None:
            ends = _si._channel_ends(self._id)  # ChannelNotFoundError if none
            try:
                is_channel = _crossinterp.is_channel_tag(_si._channel_info(self._id)[1])
            except ChannelError:
                is_channel = False
            if not is_channel:  # a queue's id: queues are not channels
                ends[0].release()
                ends[1].release()
                raise ChannelNotFoundError(f'channel {self._id} not found')
            ends[1 - self._index].release()
            self._bound = ends[self._index]
        return self._bound

    @property
    def end(self):
        """The subinterp channel end this object wraps."""
        return self._end

    def __repr__(self):
        return f'{type(self).__name__}(id={self.id})'

    def __hash__(self):
        return hash(self._id)

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return other.id == self.id

    # Pickled by id, as CPython does.
    def __reduce__(self):
        return (type(self), (self.id,))

    @property
    def id(self):
        return self._id

    @property
    def is_closed(self):
        try:
            return _si._channel_info(self.id)[2]
        except ChannelError:
            return True


_NOT_SET = object()


class RecvChannel(_ChannelEnd):
    """The receiving end of a cross-interpreter channel."""

    _index = 0

    def recv(self, timeout=None):
        """Return the next object from the channel, waiting for one.

        TimeoutError after "timeout" seconds (fractions kept).
        """
        if timeout is not None and timeout < 0:
            raise ValueError('timeout value must be non-negative')
        while True:
            found, obj = self._resolve(self._end.recv(timeout))
            if found:
                return obj

    def recv_nowait(self, default=_NOT_SET):
        """Return the next object from the channel, or default if none is
        queued (ChannelEmptyError without a default)."""
        while True:
            item = self._end.recv_nowait(_NOT_SET)
            if item is _NOT_SET:
                if default is _NOT_SET:
                    raise ChannelEmptyError(f'channel {self.id} is empty')
                return default
            found, obj = self._resolve(item)
            if found:
                return obj

    def _resolve(self, item):
        if type(item) is not tuple or len(item) != 3:
            return True, item  # sent through subinterp's own API
        interpid, flag, obj = item
        if interpid == _si._current_id() or _si._interp_exists(interpid):
            return True, obj
        if flag == _DEFAULT:
            flag = _flag_of(self.id)
        if flag == _REMOVE:
            return False, None
        return True, _resolve_unbound(flag)

    def close(self):
        """Close the channel for everyone (ChannelNotEmptyError while
        objects are queued)."""
        self._end.close()


class SendChannel(_ChannelEnd):
    """The sending end of a cross-interpreter channel."""

    _index = 1

    @property
    def unbounditems(self):
        op = _crossinterp._UNBOUND_FLAG_TO_CONSTANT[_flag_of(self.id)]
        return UNBOUND if op is _crossinterp.UNBOUND else op

    def _item(self, obj, unbounditems):
        if unbounditems is None:
            flag = _DEFAULT
        else:
            flag, = _serialize_unbound(unbounditems)
        return (_si._current_id(), flag, obj)

    def send(self, obj, timeout=None, *, unbounditems=None):
        """Send the object and wait until it is received (TimeoutError after
        "timeout" seconds: the object is withdrawn)."""
        self._end.send(self._item(obj, unbounditems), timeout)

    def send_nowait(self, obj, *, unbounditems=None):
        """Queue the object; return whether a receiver was waiting for it."""
        return self._end.send_nowait(self._item(obj, unbounditems))

    def send_buffer(self, obj, timeout=None, *, unbounditems=None):
        """Send the object's buffer (the receiver gets a read-only
        memoryview of one copy) and wait until it is received."""
        self._end.send_buffer(obj, timeout)

    def send_buffer_nowait(self, obj, *, unbounditems=None):
        """Queue the object's buffer; return whether a receiver was waiting."""
        return self._end.send_buffer_nowait(obj)

    def close(self):
        """Close the channel: sends fail from now on, receivers drain what
        is queued."""
        self._end.close()
