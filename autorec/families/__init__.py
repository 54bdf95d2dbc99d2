"""Model families as plug-ins: one :class:`Family` object per family, registered by name.

``get_family("drnn")`` (or its data kind, ``"sessions"``) and ``family_of(data)`` return the
object that knows the family's genome rules, data, dimensions, training, network spec,
export inputs and trial names. The built-in families:

* :class:`SessionFamily` -- ``drnn`` on page-view sessions (DRNN paper);
* :class:`PurchaseFamily` -- ``predictor`` on purchase histories (soft-split paper).

A third family implements :class:`Family` and calls :func:`register_family`.
"""

from autorec.families._protocol import Family
from autorec.families._purchases import PurchaseFamily
from autorec.families._registry import (
    families,
    family_names,
    family_of,
    find_family,
    get_family,
    register_family,
    unregister_family,
)
from autorec.families._sessions import SessionFamily

__all__ = [
    "Family",
    "PurchaseFamily",
    "SessionFamily",
    "families",
    "family_names",
    "family_of",
    "find_family",
    "get_family",
    "register_family",
    "unregister_family",
]

register_family(SessionFamily())
register_family(PurchaseFamily())
