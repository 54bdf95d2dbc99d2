"""How much of a purchase history the networks train on: the ``--protocol`` choice.

* ``rolling`` (the default of ``search`` and ``train``): the data as far as it goes without
  reading the test window Z -- every rolling X_k -> Y_k training window that fits after dx
  (:mod:`autorec.data._purchases`, step 6) plus one XY -> XY auto-encoder example per
  customer (step 7). Every example uses only purchases before dyz, the information the
  baselines (popularity, itemknn, ALS, EASE) are fitted on.
* ``paper``: exactly the soft-split paper's protocol (Appendix A): one X -> Y training
  window, no auto-encoder examples.

The validation protocol (dates one month earlier) gets the same choice on its own dates, so
the fitness is measured on what the final model is trained like.
"""

from __future__ import annotations

from autorec.errors import AutorecError

__all__ = ["ALL_WINDOWS", "DEFAULT_PROTOCOL", "PROTOCOLS", "training_protocol"]

PROTOCOLS = ("rolling", "paper")
DEFAULT_PROTOCOL = "rolling"
#: "every window that fits": build_protocol stops at the first window whose X would be empty
ALL_WINDOWS = 1000


def training_protocol(
    protocol: str = DEFAULT_PROTOCOL,
    train_windows: int | None = None,
    autoencoder: bool | None = None,
) -> tuple[int, bool]:
    """``(train_windows, autoencoder)`` for ``protocol``; an explicit ``train_windows`` or
    ``autoencoder`` overrides the rolling protocol's, and contradicts the paper's."""
    if protocol not in PROTOCOLS:
        raise AutorecError(
            "option --protocol", f"unknown protocol {protocol!r}", f"use {' or '.join(PROTOCOLS)}"
        )
    if protocol == "paper":
        if (train_windows not in (None, 1)) or autoencoder:
            raise AutorecError(
                "option --protocol paper",
                "the paper's protocol has one training window and no auto-encoder examples",
                "drop --train-windows / --autoencoder, or use --protocol rolling",
            )
        return 1, False
    windows = ALL_WINDOWS if train_windows is None else train_windows
    if windows < 1:
        raise AutorecError(
            "option --train-windows", f"must be at least 1, got {windows}", "pass K >= 1"
        )
    return windows, True if autoencoder is None else bool(autoencoder)
