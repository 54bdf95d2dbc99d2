"""A local Ray that listens on the loopback interface only.

``ray.init()`` on Linux gives the node the address it would use to reach the internet and
its GCS, raylet, worker, object-manager and agent servers (``/metrics`` included) listen on
every interface: anyone on the network could talk to them. Ray 2.x keeps everything on
127.0.0.1 when the node's address is the loopback, which it picks when "clusters are not
enabled" (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, the default on macOS and Windows).
Passing ``_node_ip_address="127.0.0.1"`` is not enough: ``ray.init`` replaces a loopback
address by the outward one.

``address="local"`` makes ``ray.init`` start a new instance instead of joining one that some
other process (maybe another user's) left running on this machine.

To run on a cluster on purpose, start Ray yourself (``ray start --head
--node-ip-address=IP`` on the head, ``ray start --address=IP:6379`` on the others) and pass
``--address IP:6379``; that path is not changed here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from autorec._net import is_loopback_host

__all__ = ["LOCAL_ONLY_ENV", "is_loopback_address", "loopback_only"]

#: Ray's switch: "0" makes a node pick 127.0.0.1 as its address.
LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """While starting a local Ray: the node takes 127.0.0.1, so every server binds there.

    The environment variable reaches the processes Ray starts; the module constant covers a
    Ray already imported in this process. Both are restored afterwards, so a later join of
    a real cluster (``--address``) reports this machine's real address."""
    from ray._private import ray_constants

    saved_env = os.environ.get(LOCAL_ONLY_ENV)
    saved_flag = ray_constants.ENABLE_RAY_CLUSTER
    os.environ[LOCAL_ONLY_ENV] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        if saved_env is None:
            os.environ.pop(LOCAL_ONLY_ENV, None)
        else:
            os.environ[LOCAL_ONLY_ENV] = saved_env


def is_loopback_address(address: str) -> bool:
    """``127.0.0.1:6379``, ``localhost:6379``, ``[::1]:6379``: a cluster on this machine's
    loopback, which the joining process must also see from 127.0.0.1 (Ray would otherwise
    replace the loopback by the outward address and never reach it)."""
    return is_loopback_host(address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]"))
