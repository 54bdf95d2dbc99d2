"""Ray Tune's own random search over an autorec search space (the GA's baseline).

:func:`tune_param_space` converts a :class:`~autorec.genome.SearchSpace` into a Tune
``param_space`` that :class:`ray.tune.search.basic_variant.BasicVariantGenerator` (Tune's
default random search, ``tune.Tuner(..., param_space=...)``) samples. Gene kinds map to Tune's
sampling domains so that one draw has the distribution of :meth:`Gene.sample
<autorec.genome.Gene.sample>`:

========== ===================================== =========================================
kind       Tune domain                           note
========== ===================================== =========================================
int        ``tune.randint(low, high + 1)``       Tune's upper bound is exclusive
log_int    ``tune.lograndint(low, high + 1)``    floor of exp(U(log low, log(high + 1))),
                                                 as :meth:`Gene.sample`
float      ``tune.uniform(low, high)``
log_float  ``tune.loguniform(low, high)``
choice     ``tune.choice(choices)``              integer choices (``batch_size``) stay ints
bool       ``tune.choice([False, True])``
fixed      the value itself (a constant)
========== ===================================== =========================================

The config also holds ``family`` (a constant), so a sampled config is a complete gene mapping.

**Repair.** Tune samples every gene independently, so a config need not be a valid genome:
``height`` is drawn in ``[low, high]`` whatever ``length`` was drawn, while the schema requires
``height <= length - 1`` (DRNN Algorithm 1 lines 19-24: only existing layers can have a
shortcut to the loss), and :class:`~autorec.genome.Genome` rejects such a mapping outright.
:func:`genome_from_sample` therefore first clamps ``height`` to ``length - 1`` (the same rule
:meth:`SearchSpace.repair` applies; it has to happen before a ``Genome`` can be built) and then
runs :meth:`SearchSpace.repair`, which snaps every value into its search domain (floats at 6
significant digits, the nearest choice), resets inactive genes to their defaults (``units_i``
above the depth, ``negatives`` with ``output: full``, ...) and sets fixed genes. The result
always passes :meth:`SearchSpace.validate`. One consequence: with the clamp, random search puts
more mass on ``height = length - 1`` than :meth:`SearchSpace.sample` (which draws ``height``
uniformly in ``[low, min(high, length - 1)]``); every other gene has the GA's initial-population
distribution. Drawing ``height`` conditionally would need ``tune.sample_from`` with a function
that gets no seeded generator from Tune, so the clamp keeps the search reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray import tune

from autorec.genome import Gene, Genome, SearchSpace

__all__ = ["genome_from_sample", "tune_domain", "tune_param_space"]


def tune_domain(gene: Gene) -> Any:
    """The Tune sampling domain of one gene (a constant for a fixed gene)."""
    if gene.fixed:
        return gene.default
    if gene.kind == "bool":
        return tune.choice([False, True])
    if gene.kind == "choice":
        return tune.choice(list(gene.choices))
    low, high = gene.bounds()
    if gene.kind == "int":
        return tune.randint(int(low), int(high) + 1)
    if gene.kind == "log_int":
        return tune.lograndint(int(low), int(high) + 1)
    if gene.kind == "float":
        return tune.uniform(float(low), float(high))
    if gene.kind == "log_float":
        return tune.loguniform(float(low), float(high))
    raise ValueError(f"gene {gene.name!r} has unknown kind {gene.kind!r}")  # pragma: no cover


def tune_param_space(space: SearchSpace) -> dict[str, Any]:
    """A Tune ``param_space`` sampling ``space``: ``family`` plus one domain per gene.

    Feed it to ``tune.Tuner(trainable, param_space=...)`` (Tune's random search,
    ``BasicVariantGenerator``); turn each sampled config into a genome with
    :func:`genome_from_sample`.
    """
    out: dict[str, Any] = {"family": space.family}
    for name, gene in space.genes.items():
        out[name] = tune_domain(gene)
    return out


def genome_from_sample(space: SearchSpace, config: Mapping[str, Any]) -> Genome:
    """The valid genome of ``space`` closest to a config Tune sampled from
    :func:`tune_param_space`: ``height`` clamped to ``length - 1``, then
    :meth:`SearchSpace.repair` (see the module docstring). Keys that are not genes
    (``family``, anything Tune or the caller added) are ignored."""
    values: dict[str, Any] = {}
    for name, gene in space.genes.items():
        values[name] = config.get(name, gene.default)
    if "height" in values and "length" in values:
        values["height"] = max(0, min(int(values["height"]), int(values["length"]) - 1))
    return space.repair(
        Genome.from_dict({"family": space.family, **values}, where="random-search config")
    )
