"""Time `cargobay images` on a store holding 1,000 images.

Builds a temporary store (1,000 images: one shared base layer plus one small unique layer each,
1,000 tags and their 1,000 digest references), then times the command's wall time with
hyperfine when it is installed, else with repeated subprocess runs (median and p90).

    python bench/images_bench.py [--images 1000] [--runs 20] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from cargobay.localstore import LocalStore
from cargobay.oci import mediatypes as mt
from cargobay.oci.manifest import Descriptor


def _layer(content: bytes, name: str) -> tuple[bytes, str]:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    data = raw.getvalue()
    return gzip.compress(data, mtime=0), "sha256:" + hashlib.sha256(data).hexdigest()


def build_store(root: Path, count: int) -> None:
    store = LocalStore(root)
    base_blob, base_diff = _layer(os.urandom(4096), "base")
    base_digest = store.put_blob(base_blob)
    items: list[tuple[str, Descriptor]] = []
    start = 1_700_000_000
    for i in range(count):
        blob, diff_id = _layer(os.urandom(512), f"f{i}")
        layer_digest = store.put_blob(blob)
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + i * 3600))
        config = json.dumps(
            {
                "created": created,
                "architecture": "amd64",
                "os": "linux",
                "config": {"Labels": {"n": str(i)}},
                "rootfs": {"type": "layers", "diff_ids": [base_diff, diff_id]},
                "history": [{"created": created, "created_by": "x"}, {"created": created, "created_by": "y"}],
            }
        ).encode()
        config_digest = store.put_blob(config)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": mt.OCI_MANIFEST,
                "config": {"mediaType": mt.OCI_CONFIG, "digest": str(config_digest), "size": len(config)},
                "layers": [
                    {"mediaType": mt.OCI_LAYER_GZIP, "digest": str(base_digest), "size": len(base_blob)},
                    {"mediaType": mt.OCI_LAYER_GZIP, "digest": str(layer_digest), "size": len(blob)},
                ],
            }
        ).encode()
        manifest_digest = store.put_blob(manifest)
        items.append(
            (
                f"127.0.0.1:5000/bench/app{i % 50}:v{i}",
                Descriptor(mt.OCI_MANIFEST, manifest_digest, len(manifest)),
            )
        )
    store.add_references(items)


def command() -> list[str]:
    script = Path(sys.executable).parent / "cargobay"
    if script.exists():
        return [str(script), "images"]
    return [sys.executable, "-m", "cargobay", "images"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", type=Path, default=None, help="build the store here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="cargobay-images-bench-"))
    try:
        t0 = time.perf_counter()
        build_store(root, args.images)
        print(f"built {args.images} images in {time.perf_counter() - t0:.1f} s at {root}")
        env = dict(os.environ, CARGOBAY_HOME=str(root))
        # Time the command as installed: with bytecode cached (the warm-up runs write it).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cmd = command()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        print(f"`cargobay images` lists {len(out.splitlines()) - 1} rows")
        hyperfine = shutil.which("hyperfine")
        if hyperfine:
            # The interpreter's own start-up, for scale: on a loaded machine both numbers grow.
            baseline = f"{sys.executable} -c pass"
            subprocess.run(
                [hyperfine, "--warmup", "3", "--runs", str(args.runs), "-N", " ".join(cmd), baseline],
                env=env,
                check=True,
            )
            return
        times: list[float] = []
        for _ in range(3):
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - start)
        times.sort()
        p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
        print(
            f"{' '.join(cmd)}: median {statistics.median(times) * 1000:.1f} ms, "
            f"min {times[0] * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms over {len(times)} runs"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
