"""Emulated fridge hardware: compartments with a thermal model, a door switch, a load cell per slot, a
camera per compartment that renders GS1-labelled packages, and fault injection, served over the
line protocol of docs/firmware-protocol.md on a TCP socket or a pseudo-terminal.

    hardware = FridgeHardware(clock, seed=7)
    with FirmwareServer(hardware) as server:   # an agent connects to server.url
        hardware.open_door(); hardware.place("fridge", 0, package, grams=1000); hardware.close_door()

`FridgeHardware` also keeps the ground truth (`contents()`, `truth_log()`) a test compares the
agent's view with. The camera alone lives in `freshtap.firmware_mock.camera`.
"""

from .faults import Faults, load_sensor, temp_sensor
from .hardware import CameraFault, FridgeHardware, HardwareError, HardwareInfo, StoredItem, TruthEvent
from .layout import DEFAULT_LAYOUT, CompartmentLayout
from .protocol import PROTOCOL_VERSION, Command, ProtocolError, encode_line, parse_command, report_line
from .reports import CoolingChange, DoorChange, LoadReading, Report, TempReading, Tick
from .server import FirmwareServer, ServerStats
from .thermal import DEFAULT_SPECS, ThermalSpec, ThermalState, advance

__all__ = [
    "DEFAULT_LAYOUT",
    "DEFAULT_SPECS",
    "PROTOCOL_VERSION",
    "CameraFault",
    "Command",
    "CompartmentLayout",
    "CoolingChange",
    "DoorChange",
    "Faults",
    "FirmwareServer",
    "FridgeHardware",
    "HardwareError",
    "HardwareInfo",
    "LoadReading",
    "ProtocolError",
    "Report",
    "ServerStats",
    "StoredItem",
    "TempReading",
    "ThermalSpec",
    "ThermalState",
    "Tick",
    "TruthEvent",
    "advance",
    "encode_line",
    "load_sensor",
    "parse_command",
    "report_line",
    "temp_sensor",
]
