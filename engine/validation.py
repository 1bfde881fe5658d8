"""Limits on the numbers users give (CLI flags, recipes) and checks of sizes against the model and machine.

One place for every bound, so the CLI, recipes, the batch exporter and the studio refuse the same
values with the same words. Each check raises :class:`engine.errors.UserError` (one line) and returns
the value it accepted.
"""

from __future__ import annotations

import math
import os
import sys

from engine.errors import UserError

#: ``np.random.RandomState(seed)`` (NVIDIA's seed convention) accepts 0 .. 2**32 - 1.
SEED_MAX = 2**32 - 1
#: ``torch.Generator.manual_seed`` accepts up to 2**64 - 1 (noise seeds of recipes).
NOISE_SEED_MAX = 2**64 - 1
#: Output image sides (pixels), for the CLI and recipes alike.
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 8, 8192
#: Truncation psi: 1 = none, 0 = the average face; far outside +-10 the latent leaves W entirely.
PSI_LIMIT = 10.0
#: Direction strength and per-direction / per-delta weights.
STRENGTH_LIMIT = 1000.0
#: Frames of one animation.
MAX_FRAMES = 10_000
#: Optimisation or training steps.
MAX_STEPS = 10_000_000
#: Images processed together (render, train, bench batches).
MAX_BATCH = 4096
#: Milliseconds per animation frame (GIF stores centiseconds in 16 bits).
MAX_FRAME_MS = 60_000

#: Bytes per activation value times the number of live feature maps a forward pass holds at once.
_ACTIVATION_BYTES = 4 * 6
#: Bytes per output pixel: the uint8 array, Pillow's RGBX copy, the resize buffer and the encoded file.
_PIXEL_BYTES = 16
#: Share of the available memory one request may plan to use.
_MEMORY_SHARE = 0.8


# ---- numbers ------------------------------------------------------------------------------------------
def finite(value: float, what: str, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False) -> float:
    """``value`` as a float, refusing NaN, infinities and values outside ``[lo, hi]`` (``(lo, hi]``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{what} must be a number, got {value!r}")
    try:
        v = float(value)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v):
        raise UserError(f"{what} must be a finite number, got {value!r}")
    if lo is not None and (v <= lo if lo_open else v < lo) or hi is not None and v > hi:
        raise UserError(f"{what} must be {_range_words(lo, hi, lo_open)}, got {value!r}")
    return v


def integer(value: int, what: str, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as an int within ``[lo, hi]`` (bools and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{what} must be an integer, got {value!r}")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise UserError(f"{what} must be {_range_words(lo, hi)}, got {_short_int(value)}")
    return value


def seed(value: int, what: str = "seed") -> int:
    """A seed for ``np.random.RandomState`` (0 .. 2**32 - 1)."""
    return integer(value, what, 0, SEED_MAX)


def noise_seed(value: int, what: str = "noise seed") -> int:
    """A seed for ``torch.Generator.manual_seed`` (0 .. 2**64 - 1)."""
    return integer(value, what, 0, NOISE_SEED_MAX)


def image_size(value: int, what: str = "size") -> int:
    """An output side in pixels (8 .. 8192)."""
    return integer(value, what, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)


def psi(value: float, what: str = "psi") -> float:
    return finite(value, what, -PSI_LIMIT, PSI_LIMIT)


def strength(value: float, what: str = "strength") -> float:
    return finite(value, what, -STRENGTH_LIMIT, STRENGTH_LIMIT)


def _range_words(lo, hi, lo_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f"in ({lo:g}, {hi:g}]" if lo_open else f"in {_num(lo)}..{_num(hi)}"
    if lo is not None:
        return f"> {lo:g}" if lo_open else f">= {_num(lo)}"
    return f"<= {_num(hi)}"


def _num(v) -> str:
    return str(v) if isinstance(v, int) else f"{v:g}"


def _short_int(v: int) -> str:
    text = str(v) if abs(v) < 10**30 else f"about 10**{int(math.log10(abs(v)))}"
    return text if v >= 0 or text.startswith("-") else f"-{text}"


# ---- memory -------------------------------------------------------------------------------------------
def available_memory() -> int | None:
    """Bytes of RAM available to a new allocation (Linux MemAvailable, else physical RAM); None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if sys.platform == "win32":
        return _windows_available()
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _windows_available() -> int | None:
    import ctypes

    class _Status(ctypes.Structure):
        _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong), ("total", ctypes.c_ulonglong),
                    ("avail", ctypes.c_ulonglong), ("page_total", ctypes.c_ulonglong),
                    ("page_avail", ctypes.c_ulonglong), ("virt_total", ctypes.c_ulonglong),
                    ("virt_avail", ctypes.c_ulonglong), ("ext", ctypes.c_ulonglong)]

    status = _Status()
    status.length = ctypes.sizeof(_Status)
    try:
        return int(status.avail) if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)) else None
    except (AttributeError, OSError):
        return None


def device_memory(device) -> int | None:
    """Free bytes on a CUDA device, else the available RAM (CPU, MPS share it)."""
    dev = str(device or "cpu")
    if dev.startswith("cuda"):
        try:
            import torch

            return int(torch.cuda.mem_get_info(torch.device(dev))[0])
        except Exception:  # noqa: BLE001 - unknown is acceptable: the RAM check still runs
            return None
    return available_memory()


def synthesis_bytes(config, resolution: int | None = None, batch: int = 1) -> int:
    """Estimated peak bytes of one no-grad synthesis of ``batch`` images up to ``resolution`` px."""
    top = resolution or config.size
    peak = max(config.channels[r] * r * r for r in config.resolutions if r <= top)
    return batch * peak * _ACTIVATION_BYTES


def image_bytes(size: int, count: int = 1) -> int:
    """Estimated bytes to hold and encode ``count`` RGB images of ``size`` x ``size``."""
    return count * size * size * _PIXEL_BYTES


def render_request(config, size: int | None, *, batch: int = 1, frames: int = 1, device=None,
                   size_flag: str = "--size", count_flag: str = "--frames") -> int:
    """Check an output size (and frame or batch count) against the model and the machine before any work.

    ``size`` None means the model's own resolution; a size that is one of the model's block resolutions
    renders only that far, other sizes render in full and are resampled. Returns the output size.
    """
    out = config.size if size is None else image_size(size, size_flag)
    integer(frames, count_flag, 1, MAX_FRAMES)
    integer(batch, "batch", 1, MAX_BATCH)
    top = out if out in config.resolutions else config.size
    synth = synthesis_bytes(config, top, batch)
    pixels = image_bytes(out, frames * batch)
    _fits(synth, device_memory(device), f"rendering {batch} x {top} px on {device or 'cpu'}", size_flag)
    _fits(pixels + (0 if str(device or "cpu").startswith("cuda") else synth), available_memory(),
          f"{frames * batch} image(s) of {out} x {out} px", f"{size_flag} or {count_flag}" if frames > 1 else size_flag)
    return out


def training_request(config, batch: int, resolution: int, *, pool: int = 0, device=None) -> None:
    """Check a training batch (forward + backward, about 3x a forward pass) and a sample pool against memory."""
    integer(batch, "--batch", 1, MAX_BATCH)
    integer(pool, "--pool", 0, None)
    need = 3 * synthesis_bytes(config, config.size, batch)
    _fits(need, device_memory(device), f"a training batch of {batch} at {config.size} px", "--batch")
    _fits(pool * resolution * resolution * 3 * 4, available_memory(), f"a pool of {pool} samples", "--pool")


def _fits(need: int, have: int | None, what: str, flag: str) -> None:
    if have is not None and need > have * _MEMORY_SHARE:
        raise UserError(f"{what} needs about {_gib(need)} of memory, more than this machine has free "
                        f"({_gib(have)}); lower {flag}")


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


# ---- output locations ---------------------------------------------------------------------------------
def writable_folder(folder) -> None:
    """Refuse, before any work, a folder that exists but is not a writable folder, or that cannot be created."""
    from pathlib import Path

    p = Path(folder)
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UserError(f"{p}: {'not a folder' if probe == p else f'{probe} is a file, not a folder'}")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"{p}: {'folder' if probe == p else f'folder {probe}'} is not writable")


def writable_output(path) -> None:
    """Refuse an output file whose folder cannot be written, or that is a folder itself."""
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        raise UserError(f"{p}: is a folder; give a file name")
    parent = p.parent
    if parent.is_dir() and not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{p}: folder {parent} is not writable")


def block_resolution(value: int | None, config, what: str = "--resolution") -> int | None:
    """None, or one of the generator's synthesis resolutions (where synthesis can stop early)."""
    if value is not None and value not in config.resolutions:
        choices = ", ".join(str(r) for r in config.resolutions if r >= MIN_IMAGE_SIZE)
        raise UserError(f"{what} must be one of this {config.size} px model's resolutions ({choices}), got {value}")
    return value
