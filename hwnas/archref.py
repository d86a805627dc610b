"""Turn what a user typed for ARCH into a spec: a zoo name, a one-line arch text, a HardCoRe-NAS / timm list form
(:mod:`hwnas.arch.listform`), or a path to an arch JSON."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hwnas import zoo
from hwnas.arch import ArchSpec, decode, loads
from hwnas.arch.listform import decode_list_form, is_list_form


@dataclass(frozen=True)
class ArchRef:
    spec: ArchSpec
    name: str  # zoo name, file name, or "custom"
    input_size: int | None  # the size the network was designed for, when known (zoo entries)


def load_arch(ref: str) -> ArchRef:
    """Resolve ARCH: zoo names first, then the one-line text form and the list form, then existing files."""
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError("ARCH is empty; give a zoo name (see `hwnas zoo list`), an arch text or an arch JSON file")
    ref = ref.strip()
    if ref in zoo.ZOO:
        entry = zoo.get(ref)
        return ArchRef(entry.spec, entry.name, entry.input_size)
    if "|" in ref:
        return ArchRef(decode(ref), "custom", None)
    if is_list_form(ref):  # HardCoRe-NAS / timm block lists, HardCoRe-NAS's stem, head and conventions
        return ArchRef(decode_list_form(ref), "custom", None)
    path = Path(ref)
    if _is_file(path):
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"cannot read arch file {path}: {e}") from None
        try:
            return ArchRef(loads(text), path.stem, None)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
    if ref.endswith(".json"):
        raise FileNotFoundError(f"arch file {ref} does not exist")
    raise ValueError(
        f"ARCH {_shorten(ref)!r} is not a zoo name, an arch text or an arch JSON file. Zoo names: {', '.join(zoo.names())}. "
        f"Arch text looks like 'act=re se=in | stem_k3_s2_c16 | ir_r1_k3_s1_e1_c16 | head', a list form like "
        f"\"[['ds_r1_k3_s1_e1_c16_nre'], ['ir_r1_k5_s2_e3_c24_nre']]\"."
    )


def _is_file(path: Path) -> bool:
    """Whether ``path`` names a file; a text no file system can hold (a name too long, a NUL byte) is not one,
    so a long arch text gets the arch text's error instead of ``[Errno 36] File name too long``."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
