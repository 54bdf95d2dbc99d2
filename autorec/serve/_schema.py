"""Request bodies of ``POST /recommend`` (pydantic, strict: a wrong type is a 422 naming
the field, never a silent coercion; unknown fields are refused, so a typo is caught)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from autorec.serve._model import parse_moment

__all__ = ["CustomerBody", "Purchase", "SessionBody"]

MAX_ID_CHARS = 256


def _raw_id(value: Any) -> str:
    """A raw id as the data has it: a string, or an integer (sent as a JSON number)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be an id: a string or an integer")
    text = str(value)
    if len(text) > MAX_ID_CHARS:
        raise ValueError(f"an id is at most {MAX_ID_CHARS} characters")
    return text


RawId = Annotated[str, BeforeValidator(_raw_id)]
Seconds = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
_K = Field(10, ge=1, description="How many items to return (at most the server's --max-k).")


class SessionBody(BaseModel):
    """A session prefix (DRNN bundles): the pages viewed so far, oldest first."""

    model_config = _STRICT

    pages: list[RawId] = Field(
        min_length=1, description="Raw page ids in view order (unknown ones are ignored)."
    )
    dwell: list[Seconds] | None = Field(
        None,
        description="Seconds spent on each page (one per page; the last page's is unknown "
        "and not used). Default: 0 for every page.",
    )
    history: list[RawId] = Field(
        default_factory=list, description="Raw ids of items the user bought before."
    )
    k: int = _K

    @field_validator("dwell")
    @classmethod
    def _one_per_page(cls, dwell: list[float] | None, info: ValidationInfo) -> list[float] | None:
        pages = info.data.get("pages")
        if dwell is not None and pages is not None and len(dwell) != len(pages):
            raise ValueError(f"needs one value per page: {len(dwell)} for {len(pages)} pages")
        return dwell


class Purchase(BaseModel):
    """One dated purchase."""

    model_config = _STRICT

    item: RawId
    date: int = Field(
        description="ISO date or date-time (UTC unless it names a zone), or unix seconds."
    )

    @field_validator("date", mode="before")
    @classmethod
    def _moment(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError("must be an ISO date string or unix seconds")
        return parse_moment(value)


class CustomerBody(BaseModel):
    """A customer's dated purchases (predictor bundles)."""

    model_config = _STRICT

    purchases: list[Purchase] = Field(min_length=1)
    as_of: int | None = Field(
        None,
        description="End of the input window (ISO date or unix seconds); default: the "
        "bundle's data card end date, as `autorec recommend` uses.",
    )
    k: int = _K

    @field_validator("as_of", mode="before")
    @classmethod
    def _as_of(cls, value: Any) -> int | None:
        if value is None:
            return None
        return Purchase._moment(value)
