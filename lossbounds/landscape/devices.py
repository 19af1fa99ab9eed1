"""Torch devices: resolution of a ``device`` argument, chunk sizes, out-of-memory retries.

Every function of the package that runs torch takes ``device`` (or uses the
device of its :class:`~lossbounds.landscape.surface.LossSurface`): ``"cpu"`` (the
default), ``"cuda"``, ``"cuda:N"``, ``"auto"`` or None (CUDA when available,
else the CPU), or a ``torch.device``. Inputs and results stay numpy arrays on
the host; only the evaluation runs on the device.

Chunk sizes follow the device: on a CPU, chunks of 64-1024 parameter vectors
keep the work buffers near the cache (``benchmarks/bench_landscape.py``); a GPU
wants tens of thousands of points per launch. Running out of GPU memory
inside a chunk loop halves the chunk and retries, down to a floor, then
raises :class:`DeviceMemoryError` naming ``chunk_size``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import torch

__all__ = [
    "ACCEPTED_DEVICES",
    "DeviceMemoryError",
    "resolve_device",
    "default_chunk_size",
    "pairwise_chunk_rows",
    "evaluate_chunked",
]

#: The accepted values of every ``device`` argument, as error messages name them.
ACCEPTED_DEVICES = "None, 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device"

# Work-buffer budgets of one chunk (bytes), and the chunk limits per device type.
_CPU_BUDGET = 8 * 2**20  # the (K, h, m) buffers of 128 vectors for the benchmark network
_CPU_LIMITS = (64, 1024)
_GPU_LIMITS = (1024, 65536)
_GPU_FRACTION = 16  # a chunk's buffers take at most 1/16 of the device memory
_PAIRWISE_BUDGET = {"cpu": 64 * 2**20}  # distance block of one kNN chunk; GPU: memory / 16


class DeviceMemoryError(MemoryError):
    """The device ran out of memory even at the smallest chunk size."""


def _oom_errors() -> tuple[type[BaseException], ...]:
    """Out-of-memory exception classes of the installed torch."""
    errors = [getattr(torch, "OutOfMemoryError", None)]
    errors.append(getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None))
    return tuple({e for e in errors if e is not None})


def _bad_device(device, why: str) -> ValueError:
    return ValueError(f"device must be one of {ACCEPTED_DEVICES}; got {device!r} ({why})")


def resolve_device(device=None) -> torch.device:
    """Return the ``torch.device`` a ``device`` argument names.

    Parameters
    ----------
    device : None, str or torch.device
        None or ``"auto"``: ``cuda`` when ``torch.cuda.is_available()``, else
        ``cpu``. ``"cpu"``, ``"cuda"`` (the current CUDA device), ``"cuda:N"``,
        or a ``torch.device`` of type cpu or cuda.

    Returns
    -------
    torch.device
        ``cpu``, or ``cuda:N`` with an explicit index.

    Raises
    ------
    ValueError
        If ``device`` is not one of the accepted values, names another device
        type, or names a CUDA device that is not available; the message names
        ``device`` and the accepted values.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise _bad_device(device, "not a string or torch.device")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as err:
        raise _bad_device(device, "unknown device") from err
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type != "cuda":
        raise _bad_device(device, f"device type {dev.type!r} is not supported")
    if not torch.cuda.is_available():
        raise _bad_device(device, "CUDA is not available on this machine")
    index = torch.cuda.current_device() if dev.index is None else dev.index
    if index >= torch.cuda.device_count():
        raise _bad_device(device, f"only {torch.cuda.device_count()} CUDA device(s)")
    return torch.device("cuda", index)


def _device_memory(dev: torch.device, memory_bytes) -> int:
    """Memory of a CUDA device in bytes (``memory_bytes`` when given)."""
    if memory_bytes is not None:
        return int(memory_bytes)
    return int(torch.cuda.get_device_properties(dev).total_memory)


def default_chunk_size(device, n_params: int, m: int, width: int, memory_bytes=None) -> int:
    """Parameter vectors per chunk for a loss surface on ``device``.

    One vector of a chunk holds three (width, m) work buffers and its own N
    coordinates, counted in float64 (8 bytes). On a CPU the chunk fills an
    8 MiB budget, clipped to 64..1024 vectors (the fast range measured by
    ``benchmarks/bench_landscape.py``); on a GPU it fills 1/16 of the device
    memory, clipped to 1024..65536 vectors. Powers of two.

    Parameters
    ----------
    device : str or torch.device
        The device (its type decides; availability is not checked here).
    n_params : int
        N, the length of a parameter vector (>= 1).
    m : int
        Number of samples (>= 1).
    width : int
        Widest hidden layer (>= 1).
    memory_bytes : int, optional
        GPU memory to plan for (default: the device's total memory).

    Returns
    -------
    int
        The chunk size, a power of two.
    """
    dev = torch.device(device)
    per_vector = 8 * (3 * width * m + n_params)
    if dev.type == "cpu":
        budget, (lo, hi) = _CPU_BUDGET, _CPU_LIMITS
    else:
        budget, (lo, hi) = _device_memory(dev, memory_bytes) // _GPU_FRACTION, _GPU_LIMITS
    fit = max(1, budget // per_vector)
    return int(min(hi, max(lo, 1 << (fit.bit_length() - 1))))


def pairwise_chunk_rows(device, n: int, memory_bytes=None) -> int:
    """Query rows per chunk of an (rows, n) float64 distance block on ``device`` (>= 1).

    64 MiB per block on a CPU, 1/16 of the device memory on a GPU
    (``memory_bytes`` overrides the device's total memory).
    """
    dev = torch.device(device)
    if dev.type == "cpu":
        budget = _PAIRWISE_BUDGET["cpu"]
    else:
        budget = _device_memory(dev, memory_bytes) // _GPU_FRACTION
    return max(1, budget // (8 * max(1, int(n))))


def _release(device) -> None:
    """Return cached blocks to the CUDA allocator after an out-of-memory error."""
    if torch.device(device).type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()


def evaluate_chunked(
    fn: Callable[[int, int], object],
    n_items: int,
    chunk_size: int,
    min_chunk_size: int = 1,
    device="cpu",
) -> Iterator[tuple[int, int, object]]:
    """Run ``fn(start, stop)`` over ``[0, n_items)`` in chunks, halving them on out-of-memory.

    Parameters
    ----------
    fn : callable ``(start, stop) -> result``
        Evaluates one chunk. A ``torch.OutOfMemoryError`` (or
        ``torch.cuda.OutOfMemoryError``) raised by it is caught: the chunk
        size is halved (never below ``min_chunk_size``), a warning says so,
        and the same start is retried. The smaller size is kept for the
        rest of the run.
    n_items : int
        Number of items (>= 0).
    chunk_size : int
        Initial items per chunk (>= 1).
    min_chunk_size : int
        Floor of the halving (>= 1).
    device : str or torch.device
        Device of the evaluation (CUDA caches are emptied before a retry).

    Yields
    ------
    (start, stop, result)
        One tuple per finished chunk, in order.

    Raises
    ------
    DeviceMemoryError
        If a chunk of ``min_chunk_size`` items still runs out of memory; the
        message names ``chunk_size``.
    """
    start, size, floor = 0, int(chunk_size), max(1, min(int(min_chunk_size), int(chunk_size)))
    oom = _oom_errors()
    while start < n_items:
        stop = min(start + size, n_items)
        try:
            result = fn(start, stop)
        except oom as err:
            _release(device)
            if size <= floor:
                raise DeviceMemoryError(
                    f"out of memory on {device} at chunk_size={size} (the floor); pass a "
                    f"smaller chunk_size, fewer samples, or device='cpu'"
                ) from err
            size = max(floor, size // 2)
            warnings.warn(
                f"out of memory on {device}: retrying with chunk_size={size}",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        yield start, stop, result
        start = stop
