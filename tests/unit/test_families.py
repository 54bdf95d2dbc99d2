"""The family registry: both vocabularies find the built-in families, data finds its family,
and a third family registered from outside the package is found like the others."""

from __future__ import annotations

from collections.abc import Iterator
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


class _Tiny:
    """A stand-in family: the least that satisfies the protocol."""

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
        return data == "tiny data"


@pytest.fixture
def tiny() -> Iterator[Family]:
    family = register_family(_Tiny())  # type: ignore[arg-type]
    yield family
    unregister_family("tiny")


def test_a_third_family_can_be_registered(tiny: Family) -> None:
    assert get_family("tiny") is tiny
    assert get_family("tiny-events") is tiny
    assert find_family("tiny data") is None  # a string is a name, never data
    assert "tiny" in family_names()
    with pytest.raises(ValueError, match="already registered"):
        register_family(_Tiny())  # type: ignore[arg-type]
    assert register_family(_Tiny(), replace=True) is not tiny  # type: ignore[arg-type]


def test_the_registry_refuses_what_is_not_a_family() -> None:
    with pytest.raises(TypeError, match="does not implement the Family protocol"):
        register_family(object())  # type: ignore[arg-type]
