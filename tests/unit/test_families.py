"""The family registry: both vocabularies find the built-in families, data finds its family,
and a third family registered from outside the package is found like the others."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from autorec.data import load_purchase_data, load_session_data
from autorec.errors import AutorecError
from autorec.families import (
    Family,
    family_names,
    family_of,
    find_family,
    get_family,
    register_family,
    unregister_family,
)
from autorec.tune._trainable import data_dims, trial_name


def test_both_vocabularies_name_one_family() -> None:
    assert get_family("drnn") is get_family("sessions")
    assert get_family("predictor") is get_family("purchases")
    assert family_names()[:2] == ("drnn", "predictor")
    with pytest.raises(AutorecError, match="unknown family 'gru'"):
        get_family("gru")


def test_data_finds_its_family() -> None:
    assert family_of(load_session_data(None, None)).name == "drnn"
    assert family_of(load_purchase_data(None, None)).name == "predictor"
    assert find_family(object()) is None
    with pytest.raises(AutorecError, match="no family's data set"):
        family_of(object())


class _TinyData:
    """A data set only the stand-in family trains on."""


class _Tiny:
    """A stand-in family: the constants of the protocol, its methods answering None except
    the few the test below asks the package's callers to use."""

    name = "tiny"
    data_kind = "tiny-events"
    depth_gene = "layers"
    nsga2_objectives: tuple[str, ...] = ("fitness",)
    kept_weights_final = True

    def __getattr__(self, method: str) -> Any:
        if method.startswith("__"):
            raise AttributeError(method)
        return lambda *args, **kwargs: None

    def accepts(self, data: object) -> bool:
        return isinstance(data, _TinyData)

    def dims(self, data: object) -> dict[str, int]:
        return {"n_pages": 0, "n_items": 3, "n_users": 1}

    def trial_shape(self, config: Mapping[str, Any]) -> str:
        return f"d{config.get('depth')}"


@pytest.fixture
def tiny() -> Iterator[Family]:
    family = register_family(_Tiny())  # type: ignore[arg-type]
    yield family
    unregister_family("tiny")


def test_a_third_family_can_be_registered(tiny: Family) -> None:
    assert get_family("tiny") is tiny
    assert get_family("tiny-events") is tiny
    assert family_of(_TinyData()) is tiny
    assert "tiny" in family_names()
    # the search layer names its trials and sizes its networks through it, unedited
    assert trial_name({"generation": 2, "family": "tiny", "depth": 3, "genome_key": "ab"}) == (
        "g2-tiny-d3-ab"
    )
    assert data_dims(_TinyData()) == {"n_pages": 0, "n_items": 3, "n_users": 1}
    with pytest.raises(ValueError, match="already registered"):
        register_family(_Tiny())  # type: ignore[arg-type]
    assert register_family(_Tiny(), replace=True) is not tiny  # type: ignore[arg-type]


def test_the_registry_refuses_what_is_not_a_family() -> None:
    with pytest.raises(TypeError, match="does not implement the Family protocol"):
        register_family(object())  # type: ignore[arg-type]
