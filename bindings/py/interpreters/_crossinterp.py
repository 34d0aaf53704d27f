"""What queues (and channels) share: the unbound-item policy, and telling
the two apart on subinterp's one channel registry.

An item is *unbound* once the interpreter that put it was destroyed. PEP 734
lets the sender choose, per item, what a receiver then gets: UNBOUND in its
place, an ItemInterpreterDestroyed error, or nothing (the item is removed).
"""

import subinterp as _si


class ItemInterpreterDestroyed(Exception):
    """Raised when trying to get an item whose interpreter was destroyed."""


class classonly:
    """A non-data descriptor that makes a value only visible on the class."""

    def __init__(self, value):
        self.value = value
        self.getter = classmethod(value).__get__
        self.name = None

    def __set_name__(self, cls, name):
        if self.name is not None:
            raise TypeError('already used')
        self.name = name

    def __get__(self, obj, cls):
        if obj is not None:
            raise AttributeError(self.name)
        return self.getter(None, cls)


class UnboundItem:
    """Represents a cross-interpreter item no longer bound to an interpreter.

    An item is unbound when the interpreter that added it to the
    cross-interpreter container is destroyed.
    """

    __slots__ = ()

    @classonly
    def singleton(cls, kind, module, name='UNBOUND'):
        doc = cls.__doc__
        if doc:
            doc = doc.replace('cross-interpreter container', kind).replace('cross-interpreter', kind)
        subclass = type(f'Unbound{kind.capitalize()}Item', (cls,),
                        {"_MODULE": module, "_NAME": name, "__doc__": doc})
        return object.__new__(subclass)

    _MODULE = __name__
    _NAME = 'UNBOUND'

    def __new__(cls):
        raise Exception(f'use {cls._MODULE}.{cls._NAME}')

    def __repr__(self):
        return f'{self._MODULE}.{self._NAME}'

    def __reduce__(self):
        # The singleton of its module, in whatever interpreter unpickles it.
        return (_unbound_singleton, (self._MODULE, self._NAME))


def _unbound_singleton(module, name):
    import importlib
    return getattr(importlib.import_module(module), name)


UNBOUND = object.__new__(UnboundItem)
UNBOUND_ERROR = object()
UNBOUND_REMOVE = object()

_UNBOUND_CONSTANT_TO_FLAG = {
    UNBOUND_REMOVE: 1,
    UNBOUND_ERROR: 2,
    UNBOUND: 3,
}
_UNBOUND_FLAG_TO_CONSTANT = {v: k for k, v in _UNBOUND_CONSTANT_TO_FLAG.items()}

# The tag a subinterp channel carries (channel.Options.Tag) says which layer
# made it: 0 for a raw subinterp channel, a queue's default unbound flag
# (1..3) for a queue, CHANNEL_TAG_BASE + that flag for a PEP 734 channel.
# Each layer lists and opens only its own.
CHANNEL_TAG_BASE = 16


def is_queue_tag(tag):
    """Whether a channel with this tag is a queue."""
    return 0 < tag < CHANNEL_TAG_BASE


def is_channel_tag(tag):
    """Whether a channel with this tag is a channel of the channels layer:
    made by it, or a raw subinterp channel."""
    return not is_queue_tag(tag)


def list_tagged(is_tag):
    """The (recv, send) ends of every open subinterp channel whose tag
    passes is_tag, bound for the caller (release them when done); the ends
    of the others, and of channels closed since they were listed, are
    released here."""
    pairs = []
    for r, s in _si.list_all_channels():
        try:
            if is_tag(_si._channel_info(r.id)[1]):
                pairs.append((r, s))
                continue
        except _si.ChannelError:
            pass  # closed since it was listed
        r.release()
        s.release()
    return pairs


def serialize_unbound(unbound):
    """Return (flag,) for an unbound policy, or raise NotImplementedError."""
    try:
        flag = _UNBOUND_CONSTANT_TO_FLAG[unbound]
    except (KeyError, TypeError):
        raise NotImplementedError(f'unsupported unbound replacement op {unbound!r}') from None
    return flag,


def resolve_unbound(flag, exctype_destroyed):
    """What a receiver gets for an unbound item put with policy flag."""
    try:
        op = _UNBOUND_FLAG_TO_CONSTANT[flag]
    except KeyError:
        raise NotImplementedError(f'unsupported unbound replacement op {flag!r}') from None
    if op is UNBOUND_REMOVE:
        raise NotImplementedError  # removed items are never resolved
    if op is UNBOUND_ERROR:
        raise exctype_destroyed("item's original interpreter destroyed")
    return UNBOUND
