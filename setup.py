"""Maps the top-level folders onto one `freshtap` distribution.

`src/freshtap` is the root package; `server/`, `device/`, `simulator/` and `firmware-mock/` become
`freshtap.server`, `freshtap.device`, `freshtap.simulator` and `freshtap.firmware_mock`. Sub-packages
are discovered here so that a new folder with an `__init__.py` ships without editing a list.
"""

from setuptools import find_packages, setup

ROOTS = {
    "freshtap": "src/freshtap",
    "freshtap.server": "server",
    "freshtap.device": "device",
    "freshtap.simulator": "simulator",
    "freshtap.firmware_mock": "firmware-mock",
}

packages: list[str] = []
package_dir: dict[str, str] = {}
for name, folder in ROOTS.items():
    package_dir[name] = folder
    packages.append(name)
    for sub in find_packages(folder):
        packages.append(f"{name}.{sub}")

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={
        "": ["*.json", "*.html", "*.js", "*.css", "*.svg", "*.ini", "*.mako", "*.toml", "py.typed", "LICENSE*"]
    },
    include_package_data=True,
)
