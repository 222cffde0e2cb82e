"""Build hook: the wheel carries the top-level ``templates/`` and ``migrations/`` folders inside ``registration``.

The source tree keeps them at the top (one template folder per blueprint; Flask-Migrate's layout), where an
editable install reads them; an installed wheel finds them beside the package's code
(``registration.settings.shipped_folder``). Everything else is declared in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED_FOLDERS = ("templates", "migrations")


class BuildPyWithSharedFolders(build_py):
    """``build_py`` that also copies the shipped top-level folders into ``registration/``."""

    def run(self):
        """Build the packages, then add the shipped folders (not for an editable install)."""
        super().run()
        if self.editable_mode:
            return
        for name in SHIPPED_FOLDERS:
            target = Path(self.build_lib, "registration", name)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithSharedFolders})
