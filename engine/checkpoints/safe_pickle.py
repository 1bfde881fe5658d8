"""A pickle reader that never runs code from the file: every global goes through an allow-list.

NVIDIA's pickles ask for ``torch_utils.persistence._reconstruct_persistent_obj`` (which would
``exec`` the embedded network source) and ``dnnlib`` helpers. Here those names map to inert records:
:class:`PersistentRecord` keeps ``module_src`` as plain text and the object's ``state`` dict;
:class:`EasyDictRecord` is a plain dict; :class:`TFNetworkRecord` keeps a TF-era network's state.
Tensors and numpy arrays are rebuilt with checked wrappers. Any other global is refused with
:class:`RefusedGlobal` before anything is called.
"""

from __future__ import annotations

import collections
import io
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch._utils

from .errors import ModelFileError

#: Pickle protocol 2+ header byte; NVIDIA pickles are protocol 2..5.
PICKLE_PROTO = b"\x80"
#: ``torch.save`` (legacy, non-zip) files start with this pickled magic number.
TORCH_LEGACY_MAGIC = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle asked for a global outside the allow-list."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name
        super().__init__(f"{module}.{name}")


class PersistentRecord:
    """What ``_reconstruct_persistent_obj(meta)`` described: a class name, its source text, its state.

    The source is never compiled or executed; it is kept only so callers may inspect it.
    """

    def __init__(self, meta: dict) -> None:
        if not isinstance(meta, dict):
            raise pickle.UnpicklingError("persistent object without a meta dict")
        self.type = meta.get("type")
        self.version = meta.get("version")
        self.class_name = str(meta.get("class_name", ""))
        src = meta.get("module_src", "")
        self.module_src = src if isinstance(src, str) else ""
        state = meta.get("state")
        self.state: dict = dict(state) if isinstance(state, dict) else {}

    def __repr__(self) -> str:
        return f"PersistentRecord({self.class_name})"

    # -- nn.Module state access -------------------------------------------------------------------
    def child(self, name: str) -> PersistentRecord | None:
        mods = self.state.get("_modules") or {}
        obj = mods.get(name)
        return obj if isinstance(obj, PersistentRecord) else None

    def children(self) -> dict[str, PersistentRecord]:
        mods = self.state.get("_modules") or {}
        return {k: v for k, v in mods.items() if isinstance(v, PersistentRecord)}

    def attr(self, name: str, default=None):
        return self.state.get(name, default)

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Parameters and buffers of this record and all persistent children, with dotted names."""
        out: dict[str, torch.Tensor] = {}
        for group in ("_parameters", "_buffers"):
            for k, v in (self.state.get(group) or {}).items():
                if isinstance(v, torch.Tensor):
                    out[prefix + k] = v
        for k, child in self.children().items():
            out.update(child.tensors(f"{prefix}{k}."))
        return out


class EasyDictRecord(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a plain dict (attribute access not needed)."""


class TFNetworkRecord:
    """Stand-in for ``dnnlib.tflib.network.Network``: keeps the pickled state; builds no graph."""

    def __init__(self, *args, **kwargs) -> None:
        self.state: dict = {}

    def __setstate__(self, state) -> None:
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("TF network state is not a dict")
        self.state = state

    @property
    def name(self) -> str:
        return str(self.state.get("name", ""))

    @property
    def static_kwargs(self) -> dict:
        kw = self.state.get("static_kwargs") or {}
        return dict(kw) if isinstance(kw, dict) else {}

    @property
    def components(self) -> dict:
        comps = self.state.get("components") or {}
        return dict(comps) if isinstance(comps, dict) else {}

    @property
    def variables(self) -> list:
        v = self.state.get("variables") or []
        return list(v) if isinstance(v, (list, tuple)) else []


# ---- checked constructors ------------------------------------------------------------------------
_STORAGE_TYPES = (torch.UntypedStorage, torch.TypedStorage)


def _load_storage_from_bytes(data: bytes):
    """``torch.storage._load_from_bytes``: a legacy ``torch.save`` of one storage, read weights-only."""
    if not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("storage payload is not bytes")
    obj = torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
    if not isinstance(obj, _STORAGE_TYPES):
        raise pickle.UnpicklingError(f"storage payload holds {type(obj).__name__}, not a storage")
    return obj


def _check_hooks(hooks) -> collections.OrderedDict:
    if hooks:  # backward hooks would be functions: refused earlier, but never pass any on
        raise pickle.UnpicklingError("tensor with backward hooks")
    return collections.OrderedDict()


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if not isinstance(storage, _STORAGE_TYPES):
        raise pickle.UnpicklingError("tensor without a storage")
    return torch._utils._rebuild_tensor_v2(storage, int(storage_offset), tuple(size), tuple(stride), False,
                                           _check_hooks(backward_hooks))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError("parameter without tensor data")
    _check_hooks(backward_hooks)
    return data.detach()  # plain tensors are all we need


def _numpy_reconstruct(subtype, shape, dtype_char):
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError("numpy array subtype other than ndarray")
    return np.ndarray.__new__(np.ndarray, shape, dtype_char)


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError("numpy object scalar")
    return _NP_SCALAR(dtype, data) if data is not None else _NP_SCALAR(dtype)


_NP_RECONSTRUCT = np.zeros(1).__reduce__()[0]
_NP_SCALAR = np.float64(1).__reduce__()[0]


def _persistent(meta) -> PersistentRecord:
    return PersistentRecord(meta)


ALLOWED: dict[tuple[str, str], Callable | type] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_from_bytes,
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent,
    ("dnnlib.util", "EasyDict"): EasyDictRecord,
    ("dnnlib", "EasyDict"): EasyDictRecord,
    ("dnnlib.tflib.network", "Network"): TFNetworkRecord,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    ALLOWED[(_mod, "_reconstruct")] = _numpy_reconstruct
    ALLOWED[(_mod, "scalar")] = _numpy_scalar


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` only hands out the allow-listed, inert callables."""

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise RefusedGlobal(module, name) from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not supported in NVIDIA pickles")


def is_torch_legacy_save(path: Path) -> bool:
    """True for a pre-1.6 ``torch.save`` file (raw pickle starting with torch's magic number)."""
    with open(path, "rb") as f:
        return f.read(len(TORCH_LEGACY_MAGIC)) == TORCH_LEGACY_MAGIC


def restricted_load(path: Path) -> object:
    """Unpickle ``path`` with the allow-list. Every failure is one-line :class:`ModelFileError`."""
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f).load()
    except RefusedGlobal as exc:
        raise ModelFileError(path, f"refused: pickle asks for global '{exc.module}.{exc.name}', which is not "
                                   "on the allow-list (code stored in model files is never run)") from None
    except EOFError:
        raise ModelFileError(path, "truncated pickle (file ends early)") from None
    except MemoryError:
        raise ModelFileError(path, "corrupt pickle (asks for more memory than available)") from None
    except Exception as exc:  # noqa: BLE001 - every parser failure becomes one clear line
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "truncated" in msg.lower() or "ran out of input" in msg.lower():
            raise ModelFileError(path, "truncated pickle (file ends early)") from None
        raise ModelFileError(path, f"corrupt or unsupported pickle ({type(exc).__name__}: {msg[:160]})") from None
