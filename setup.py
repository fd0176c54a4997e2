"""Build step that pyproject.toml cannot express: the example project the demo deploys
(``examples/crm-scenarios``, the one copy that is edited) is copied into the package as
``floodway/examples_data/crm-scenarios``, so that an installed floodway finds it
(``floodway.demo.example_project``). All other metadata is in pyproject.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

EXAMPLES = ("crm-scenarios",)


class BuildPyWithExamples(build_py):  # type: ignore[misc]
    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        for name in EXAMPLES:
            source = root / "examples" / name
            if source.is_dir():
                target = Path(self.build_lib) / "floodway" / "examples_data" / name
                shutil.copytree(source, target, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildPyWithExamples})
