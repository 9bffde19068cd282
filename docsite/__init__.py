"""The documentation site's generators: reference pages rendered from the code at build time.

``docsite/gen_pages.py`` (run by mkdocs-gen-files during ``mkdocs build``) writes the
reference pages from the Typer app, the pydantic config models, the service's OpenAPI, the
raw-data contract, the signal catalog and the module docstrings, so the reference cannot
drift from the code. ``docsite.commands`` checks that every ``churn`` command quoted in the
docs parses against the Typer app; ``docsite.guides`` renders the Russian guides the
service serves next to the supervisor page. Tooling on top of everything: no package of the
program imports it.
"""
