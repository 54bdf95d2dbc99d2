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

:func:`start_ray` changes ``os.environ`` only while a local Ray starts (the processes it
starts keep what they saw) and puts it back afterwards: the loopback switch above, and the
checkout on ``PYTHONPATH`` so local workers import autorec like the driver does, even when it
is not installed. Joining a cluster changes nothing: its workers never see this environment.

To run on a cluster on purpose, start Ray yourself (``ray start --head
--node-ip-address=IP`` on the head, ``ray start --address=IP:6379`` on the others) and pass
``--address IP:6379``; that path is not changed here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from autorec._env import torch_env
from autorec._net import is_loopback_host
from autorec.errors import AutorecError

__all__ = ["LOCAL_ONLY_ENV", "is_loopback_address", "loopback_only", "start_ray"]

#: Ray's switch: "0" makes a node pick 127.0.0.1 as its address.
LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """While starting a local Ray: the node takes 127.0.0.1, so every server binds there.

    The environment variable reaches the processes Ray starts; the module constant covers a
    Ray already imported in this process. Both are restored afterwards, so a later join of
    a real cluster (``--address``) reports this machine's real address."""
    from ray._private import ray_constants

    saved_flag = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        with _env_set(LOCAL_ONLY_ENV, "0"):
            yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag


@contextlib.contextmanager
def _env_set(name: str, value: str) -> Iterator[None]:
    """``os.environ[name] = value`` for the block, then as it was."""
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


def _checkout_on_pythonpath() -> contextlib.AbstractContextManager[None]:
    """While a local Ray starts: this checkout first on ``PYTHONPATH`` (unless it is there
    already), so its workers import the autorec the driver runs."""
    root = str(Path(__file__).resolve().parents[2])
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root in paths:
        return contextlib.nullcontext()
    return _env_set("PYTHONPATH", os.pathsep.join([root, *paths]))


def is_loopback_address(address: str) -> bool:
    """``127.0.0.1:6379``, ``localhost:6379``, ``[::1]:6379``: a cluster on this machine's
    loopback, which the joining process must also see from 127.0.0.1 (Ray would otherwise
    replace the loopback by the outward address and never reach it)."""
    return is_loopback_host(address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]"))


def _token_hint() -> str:
    """How to sign in to the dashboard when Ray's token authentication is on (the default for
    a local cluster since Ray 2.5x): the page asks for the token kept in ~/.ray/auth_token."""
    if os.environ.get("RAY_AUTH_MODE", "token").lower() != "token":
        return ""
    token_file = Path.home() / ".ray" / "auth_token"
    if not token_file.is_file():
        return ""
    return f"  (sign in with the token in {token_file}, or `ray get-auth-token`)"


def start_ray(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    quiet: bool = False,
    err: TextIO | None = None,
) -> str | None:
    """Join ``address`` or start a new local Ray listening on 127.0.0.1 only (dashboard
    included; module docstring).

    Returns the dashboard URL (``None`` when it could not start; the search goes on).
    Does nothing (returns ``None``) when Ray is already initialised in this process.
    """
    import ray

    err = err or sys.stderr
    if ray.is_initialized():
        return None
    common: dict[str, Any] = {
        "logging_level": logging.WARNING if quiet else logging.INFO,
        "log_to_driver": not quiet,
        "configure_logging": True,
        "runtime_env": {"env_vars": torch_env()},  # before workers load torch (autorec._env)
    }
    ctx = _join(address, common) if address else _start_local(num_cpus, common, err)
    url = getattr(ctx, "dashboard_url", None) or None
    if url and not str(url).startswith("http"):
        url = f"http://{url}"
    if url:
        print(f"Ray dashboard: {url}{_token_hint()}", file=err)
    elif not address:
        print("Ray dashboard is not running; the search continues without it", file=err)
    return str(url) if url else None


def _join(address: str, common: dict[str, Any]) -> Any:
    import ray

    try:
        with loopback_only() if is_loopback_address(address) else contextlib.nullcontext():
            return ray.init(address=address, **common)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise AutorecError(
            "option --address",
            f"cannot join Ray cluster {address!r} ({exc})",
            "check the address (ray status) or leave it out to start a local Ray",
        ) from None


def _start_local(num_cpus: int | None, common: dict[str, Any], err: TextIO) -> Any:
    """address="local": always a new local Ray, never a cluster some other process on this
    machine happens to run (ray.init() alone joins that one); every port on 127.0.0.1."""
    import ray

    with loopback_only(), _checkout_on_pythonpath():
        try:
            return ray.init(
                address="local",
                num_cpus=num_cpus,
                include_dashboard=True,
                dashboard_host="127.0.0.1",
                **common,
            )
        except Exception as exc:  # dashboard dependencies missing or port trouble
            print(f"Ray dashboard could not start ({exc}); continuing without it", file=err)
            if ray.is_initialized():
                ray.shutdown()
            return ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **common)
