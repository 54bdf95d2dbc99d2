"""autorec: AutoML tuning of neural recommenders.

A genetic algorithm (DEAP) evolves genomes; ``codegen`` turns each into a PyTorch module;
Ray Tune runs the trials; the best network is exported as a production bundle.
"""

from autorec.errors import AutorecError

__version__ = "0.1.0"
__all__ = ["AutorecError", "__version__"]
