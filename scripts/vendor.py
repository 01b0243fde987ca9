"""Copy the pinned front-end libraries from node_modules into static/vendor.

Run through ``make vendor`` after ``npm ci``. The served files are committed, so a
newcomer needs no Node.js; ``static/vendor/VENDORED.json`` records name, version, licence
and SHA-256 of each file (a test checks the files still match it).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "static" / "vendor"
FILES = {
    "htmx.org": [("dist/htmx.min.js", "htmx.min.js"), ("LICENSE", "htmx.LICENSE.txt")],
    "sortablejs": [("Sortable.min.js", "Sortable.min.js"), ("LICENSE", "Sortable.LICENSE.txt")],
}


def main() -> None:
    VENDOR.mkdir(parents=True, exist_ok=True)
    manifest = []
    for package, files in FILES.items():
        meta = json.loads((ROOT / "node_modules" / package / "package.json").read_text())
        for source, target in files:
            shutil.copyfile(ROOT / "node_modules" / package / source, VENDOR / target)
            digest = hashlib.sha256((VENDOR / target).read_bytes()).hexdigest()
            manifest.append(
                {
                    "file": target,
                    "package": package,
                    "version": meta["version"],
                    "license": meta["license"],
                    "sha256": digest,
                }
            )
    (VENDOR / "VENDORED.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"Vendored {len(manifest)} files into {VENDOR.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
