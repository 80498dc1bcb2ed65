"""The public surface of `freshtap.firmware_mock` is explicit and importable, and the device never imports it."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize("package", ["freshtap.firmware_mock", "freshtap.firmware_mock.camera"])
def test_all_is_complete_and_importable(package: str) -> None:
    module = importlib.import_module(package)
    names = module.__all__
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(module, name) is not None
    public = {n for n, v in vars(module).items() if not n.startswith("_") and not isinstance(v, type(module))}
    assert public - set(names) <= {"annotations"}


def test_the_device_side_stands_without_the_emulator_and_the_agent_without_opencv() -> None:
    script = (
        "import sys\n"
        "import freshtap.device, freshtap.device.agent\n"
        "assert 'cv2' not in sys.modules, 'the bare agent pulled in OpenCV'\n"
        "import freshtap.device.fridge_device\n"
        "assert not [m for m in sys.modules if m.startswith('freshtap.firmware_mock')], 'device imports the mock'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
