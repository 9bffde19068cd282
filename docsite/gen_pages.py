"""Write the generated pages of the docs site (run by mkdocs-gen-files during the build).

The pages themselves are rendered by :func:`docsite.pages.all_pages`, from the code they
document, at build time, so they cannot drift; this script only hands them to MkDocs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # mkdocs runs this file by path; make the project importable
    sys.path.insert(0, str(ROOT))

from docsite import pages  # noqa: E402

for name, text in pages.all_pages(ROOT).items():
    with mkdocs_gen_files.open(name, "w") as fh:
        fh.write(text)
    if name in pages.SOURCES:
        mkdocs_gen_files.set_edit_path(name, pages.SOURCES[name])
