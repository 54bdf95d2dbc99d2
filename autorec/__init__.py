"""autorec: AutoML tuning of neural recommenders.

A genetic algorithm (DEAP) evolves genomes; ``codegen`` turns each into a PyTorch module;
Ray Tune runs the trials; the best network is exported as a production bundle.
"""

from autorec._env import TORCH_ENV, set_torch_env, torch_env
from autorec.errors import AutorecError

__version__ = "0.1.0"
# the environment torch must see before it is imported: benchmarks and scripts call
# set_torch_env() first (autorec._env imports nothing heavy)
__all__ = ["TORCH_ENV", "AutorecError", "__version__", "set_torch_env", "torch_env"]
