"""NVIDIA ``.pkl`` loading: images match NVIDIA's / TF's equations, and nothing in a pickle is ever run."""

from __future__ import annotations

import copy
import importlib.util
import io
import pickle
import sys

import pytest
import torch
from nvidia_layout import (
    EasyDict,
    NvModule,
    make_nvidia_generator,
    nv_mapping,
    nvidia_forward,
    nvidia_globals,
    setup_filter,
    tf_forward,
    tf_params_from_nvidia,
    write_nvidia_pickle,
    write_tf_pickle,
)

from engine.checkpoints import ModelFileError, load_generator
from engine.checkpoints.nvidia import load_nvidia_pickle
from engine.cli.main import main as cli_main

TOL = 1e-4
CASES = [(1.0, None), (0.7, 4)]  # (psi, cutoff); 32 px has 8 W+ rows


def _z(n=3, dim=16, seed=7):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


def _no_nvidia_code_importable():
    return all(importlib.util.find_spec(m) is None for m in ("torch_utils", "dnnlib"))


@pytest.fixture(scope="module")
def nv_generator():
    return make_nvidia_generator(seed=3)


@pytest.fixture
def nv_pickle(tmp_path, nv_generator):
    path = tmp_path / "network-snapshot-000100.pkl"
    write_nvidia_pickle(path, nv_generator)
    return path


# ---- stylegan2-ada-pytorch layout ------------------------------------------------------------------
@pytest.mark.parametrize("protocol", [3, 4])
def test_ada_pickle_renders_like_nvidia(tmp_path, nv_generator, protocol):
    path = tmp_path / "g.pkl"
    write_nvidia_pickle(path, nv_generator, protocol=protocol)
    assert _no_nvidia_code_importable() and "torch_utils" not in sys.modules
    loaded = load_generator(path)
    gen = loaded.generator
    assert loaded.source_format == "nvidia"
    assert gen.config.conv_clamp == pytest.approx(0.8) and gen.config.demod_eps_mode == "nvidia"
    assert gen.config.channels == {4: 16, 8: 16, 16: 16, 32: 8} and gen.config.n_mlp == 2
    z = _z()
    with torch.no_grad():
        for psi, cutoff in CASES:
            ref = nvidia_forward(nv_generator, z, psi, cutoff)
            out = gen(z, psi=psi, cutoff=cutoff, noise_mode="const")
            assert out.shape == ref.shape == (3, 3, 32, 32)
            assert (out - ref).abs().max().item() < TOL, (psi, cutoff)


def test_conv_clamp_is_exercised(nv_generator):
    """The test weights hit the clamp, so the comparison above checks conv_clamp semantics."""
    unclamped = copy.deepcopy(nv_generator)
    for m in unclamped.modules():
        if hasattr(m, "conv_clamp"):
            m.conv_clamp = None
    z = _z()
    with torch.no_grad():
        assert (nvidia_forward(unclamped, z) - nvidia_forward(nv_generator, z)).abs().max() > 0.1


def test_ada_pickle_without_clamp(tmp_path):
    g = make_nvidia_generator(seed=5, conv_clamp=None, num_fp16_res=0)
    path = tmp_path / "noclamp.pkl"
    write_nvidia_pickle(path, g, protocol=4)
    gen = load_generator(path).generator
    assert gen.config.conv_clamp is None
    z = _z(2)
    with torch.no_grad():
        assert (gen(z, psi=0.7) - nvidia_forward(g, z, 0.7)).abs().max() < TOL


def test_w_avg_kwargs_and_filters_come_from_the_pickle(nv_pickle, nv_generator):
    gen, fmt, meta = load_nvidia_pickle(nv_pickle)
    assert fmt == "nvidia"
    assert torch.equal(gen.w_avg, nv_generator.mapping.w_avg)
    assert meta["w_avg_source"] == "mapping.w_avg"
    assert meta["init_kwargs"]["synthesis_kwargs"]["num_fp16_res"] == 2
    assert meta["num_fp16_res"] == 2 and meta["fp16_blocks"] == [16, 32]
    assert meta["conv_clamp"] == pytest.approx(0.8)
    assert meta["training_set_kwargs"]["max_size"] == 70000
    # Our FIR kernels are NVIDIA's resample_filter x4 (up-conv blur and skip upsampling).
    f4 = 4 * setup_filter()
    assert torch.allclose(gen.convs[0].conv.blur.kernel, f4) and torch.allclose(gen.to_rgbs[0].upsample.kernel, f4)
    with torch.no_grad():
        z = _z(4)
        assert torch.allclose(gen.mapping(z), nv_mapping(nv_generator, z), atol=1e-6)


def test_missing_w_avg_is_computed(tmp_path):
    g = make_nvidia_generator(seed=2)
    del g.mapping._buffers["w_avg"]  # w_avg_beta=None: NVIDIA keeps no average
    path = tmp_path / "nowavg.pkl"
    write_nvidia_pickle(path, g)
    gen, _, meta = load_nvidia_pickle(path)
    assert meta["w_avg_source"].startswith("computed")
    with torch.no_grad():
        ws = nv_mapping(g, torch.randn(8192, 16, generator=torch.Generator().manual_seed(123)))
    # The mean of the mapping, up to sampling error (4096 samples: about 0.02 per entry here).
    assert (gen.w_avg - ws.mean(0)).abs().max() < 0.15 * ws.std(0).mean() < ws.mean(0).abs().max()


def test_embedded_source_is_never_executed(tmp_path, nv_generator):
    marker = tmp_path / "module_src_ran"
    src = f"import pathlib\npathlib.Path({str(marker)!r}).touch()\nclass Generator: pass\n"
    path = tmp_path / "g.pkl"
    write_nvidia_pickle(path, nv_generator, module_src=src)
    assert src.encode() in path.read_bytes()
    loaded = load_generator(path)
    assert not marker.exists()
    assert loaded.generator.config.size == 32


# ---- rejections --------------------------------------------------------------------------------------
def _assert_refused(path, *phrases):
    with pytest.raises(ModelFileError) as err:
        load_generator(path)
    msg = str(err.value)
    assert msg.startswith(str(path) + ": ") and "\n" not in msg
    for p in phrases:
        assert p in msg, msg
    return msg


def test_conditional_model_rejected(tmp_path):
    g = make_nvidia_generator(seed=1, c_dim=4)
    path = tmp_path / "cond.pkl"
    write_nvidia_pickle(path, g)
    _assert_refused(path, "conditional", "c_dim=4")


def test_non_skip_architecture_rejected(tmp_path):
    g = make_nvidia_generator(seed=1, architecture="resnet")
    path = tmp_path / "resnet.pkl"
    write_nvidia_pickle(path, g)
    _assert_refused(path, "architecture 'resnet'", "skip")


def test_grayscale_rejected(tmp_path):
    g = make_nvidia_generator(seed=1, img_channels=1)
    path = tmp_path / "gray.pkl"
    write_nvidia_pickle(path, g)
    _assert_refused(path, "1-channel")


def test_pickle_without_g_ema_rejected(tmp_path, nv_generator):
    path = tmp_path / "no_gema.pkl"
    write_nvidia_pickle(path, nv_generator, drop=("G_ema",))
    _assert_refused(path, "without a G_ema")


class _Nv3Input(NvModule):
    pass


class _Nv3Synthesis(NvModule):
    def __init__(self):
        super().__init__()
        self.input = _Nv3Input()
        self.L0_36_16 = _Nv3Input()


def test_stylegan3_generator_rejected(tmp_path):
    g = make_nvidia_generator(seed=1)
    g.synthesis = _Nv3Synthesis()
    path = tmp_path / "sg3.pkl"
    write_nvidia_pickle(path, g)
    _assert_refused(path, "StyleGAN3", "not StyleGAN2")


# ---- code in pickles is refused ------------------------------------------------------------------------
class _Shell:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        import os

        return (os.system, (self.cmd,))


def test_shell_command_in_pickle_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _Shell(f"touch {marker}")}, protocol=3))
    msg = _assert_refused(path, "refused", "system'")
    assert "allow-list" in msg
    assert not marker.exists()
    # The same stream naming 'os.system' literally (as hand-written exploits do).
    raw = tmp_path / "evil2.pkl"
    raw.write_bytes(b"\x80\x02cos\nsystem\nX" + len(f"touch {marker}").to_bytes(4, "little")
                    + f"touch {marker}".encode() + b"\x85R.")
    _assert_refused(raw, "refused: pickle asks for global 'os.system'")
    assert not marker.exists()


def test_shell_command_inside_network_state_is_refused(tmp_path, nv_generator):
    marker = tmp_path / "pwned"
    g = copy.deepcopy(nv_generator)
    g.synthesis.b8.conv0.payload = _Shell(f"touch {marker}")
    path = tmp_path / "evil_state.pkl"
    write_nvidia_pickle(path, g, g=nv_generator)  # no deep copy of the payload while writing
    _assert_refused(path, "refused", "system'")
    assert not marker.exists()


def test_shell_command_inside_tensor_storage_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Shell(f"touch {marker}"), protocol=2)

    class _Storage:
        def __reduce__(self):
            return (_load_from_bytes, (payload,))

    def _load_from_bytes(b):
        raise AssertionError

    _load_from_bytes.__module__, _load_from_bytes.__qualname__ = "torch.storage", "_load_from_bytes"
    import torch.storage as ts

    buf = io.BytesIO()
    orig = ts._load_from_bytes
    ts._load_from_bytes = _load_from_bytes
    try:
        pickle.dump({"G_ema": _Storage()}, buf, protocol=3)
    finally:
        ts._load_from_bytes = orig
    path = tmp_path / "evil_storage.pkl"
    path.write_bytes(buf.getvalue())
    _assert_refused(path)
    assert not marker.exists()


def test_cli_reports_refusal_in_one_line(tmp_path, capsys):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Shell(f"touch {marker}"), protocol=4))
    assert cli_main(["info", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "refused" in err and str(path) in err
    assert not marker.exists()


def test_truncated_pickle(tmp_path, nv_pickle):
    data = nv_pickle.read_bytes()
    path = tmp_path / "cut.pkl"
    path.write_bytes(data[: len(data) // 2])
    _assert_refused(path, "truncated")


def test_pickle_of_something_else(tmp_path):
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps({"weights": [1.0, 2.0], "name": "not a gan"}, protocol=4))
    _assert_refused(path, "not an NVIDIA StyleGAN2 network pickle")
    path.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    _assert_refused(path, "not an NVIDIA StyleGAN2 network pickle", "list")


def test_text_file_named_pkl(tmp_path):
    path = tmp_path / "notes.pkl"
    path.write_text("these are not the weights you are looking for\n")
    _assert_refused(path, "not a model file")


# ---- TF-era layout -------------------------------------------------------------------------------------
TF_KWARGS = {"num_channels": 3, "resolution": 32, "label_size": 0, "latent_size": 16, "dlatent_size": 16,
             "mapping_layers": 2, "fmap_base": 128, "fmap_max": 16}


@pytest.fixture(scope="module")
def tf_weights(nv_generator):
    return tf_params_from_nvidia(nv_generator)


def test_tf_pickle_renders_like_tensorflow(tmp_path, tf_weights):
    path = tmp_path / "stylegan2-tiny-config-f.pkl"
    write_tf_pickle(path, tf_weights, TF_KWARGS)
    assert _no_nvidia_code_importable()
    loaded = load_generator(path)
    gen = loaded.generator
    assert loaded.source_format == "nvidia-tf"
    assert gen.config.conv_clamp is None and gen.config.demod_eps_mode == "rosinality"
    assert torch.equal(gen.w_avg, torch.from_numpy(tf_weights["dlatent_avg"]))
    z = _z()
    with torch.no_grad():
        for psi, cutoff in CASES:
            ref = tf_forward(tf_weights, z, psi, cutoff)
            assert (gen(z, psi=psi, cutoff=cutoff) - ref).abs().max().item() < TOL, (psi, cutoff)


def test_tf_and_ada_pickles_of_the_same_weights_agree(tmp_path, tf_weights, nv_generator):
    unclamped = copy.deepcopy(nv_generator)
    for m in unclamped.modules():
        if hasattr(m, "conv_clamp"):
            m.conv_clamp = None
    write_tf_pickle(tmp_path / "tf.pkl", tf_weights, TF_KWARGS)
    write_nvidia_pickle(tmp_path / "ada.pkl", unclamped)
    tf_gen = load_generator(tmp_path / "tf.pkl").generator
    ada_gen = load_generator(tmp_path / "ada.pkl").generator
    for k, v in ada_gen.state_dict().items():
        assert torch.allclose(v, tf_gen.state_dict()[k], atol=1e-6), k
    z = _z(2)
    with torch.no_grad():
        assert (tf_gen(z, psi=0.7, cutoff=4) - nvidia_forward(unclamped, z, 0.7, 4)).abs().max() < TOL


def test_tf_conditional_and_progressive_rejected(tmp_path, tf_weights):
    path = tmp_path / "cond_tf.pkl"
    write_tf_pickle(path, tf_weights, {**TF_KWARGS, "label_size": 10})
    _assert_refused(path, "conditional", "label_size=10")
    orig = {k.replace("synthesis/32x32/ToRGB", "synthesis/ToRGB_lod0"): v for k, v in tf_weights.items()}
    path = tmp_path / "orig_tf.pkl"
    write_tf_pickle(path, orig, TF_KWARGS)
    _assert_refused(path, "architecture 'orig'")


def test_tf_network_missing_variables(tmp_path, tf_weights):
    broken = {k: v for k, v in tf_weights.items() if "16x16/Conv1/weight" not in k}
    path = tmp_path / "broken_tf.pkl"
    write_tf_pickle(path, broken, TF_KWARGS)
    _assert_refused(path, "synthesis/16x16/Conv1/weight", "missing")


def test_easydict_standin_only_while_writing():
    with nvidia_globals():
        assert EasyDict.__module__ == "dnnlib.util" and "dnnlib.util" in sys.modules
    assert "dnnlib.util" not in sys.modules and "torch_utils.persistence" not in sys.modules


def test_raw_pickles_are_routed_by_content_not_suffix(tmp_path, nv_pickle, tiny_generator):
    renamed = tmp_path / "network.pt"
    renamed.write_bytes(nv_pickle.read_bytes())
    assert load_generator(renamed).source_format == "nvidia"
    legacy = tmp_path / "old-torch-save.pkl"  # pre-1.6 torch.save is a raw pickle too
    torch.save({"g_ema": tiny_generator.state_dict(), "latent_avg": tiny_generator.w_avg},
               legacy, _use_new_zipfile_serialization=False)
    assert load_generator(legacy).source_format == "rosinality"


def test_bare_generator_pickle(tmp_path, nv_generator):
    path = tmp_path / "G_ema_only.pkl"
    with nvidia_globals(), open(path, "wb") as f:
        pickle.dump(nv_generator, f, protocol=4)
    gen, fmt, _ = load_nvidia_pickle(path)
    assert fmt == "nvidia" and gen.config.size == 32
    with nvidia_globals(), open(path, "wb") as f:
        pickle.dump(nv_generator.mapping, f, protocol=4)
    _assert_refused(path, "single 'MappingNetwork' network")
