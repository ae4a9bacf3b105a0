#!/usr/bin/env python3
"""Write DIR as a tar with Python's tarfile: mktar.py DIR OUT {pax|gnu}."""
import os
import sys
import tarfile

src, out, fmt = sys.argv[1], sys.argv[2], sys.argv[3]
form = tarfile.PAX_FORMAT if fmt == "pax" else tarfile.GNU_FORMAT
with tarfile.open(out, "w", format=form) as tar:
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in sorted(dirnames) + sorted(filenames):
            full = os.path.join(dirpath, name)
            tar.add(full, arcname=os.path.relpath(full, src), recursive=False)
