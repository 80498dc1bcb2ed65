"""What the emulated fridge is made of: its compartments, each a grid of slots with a load cell and a camera.

A slot is one place a package can stand. Slots are numbered from 0, row by row from the top shelf:
slot = shelf * columns + column. Each slot has its own load cell; each compartment has one camera
whose frame shows the slot grid evenly divided (see `camera.render_grid`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .camera import MAX_GRID_COLUMNS, MAX_GRID_SHELVES
from .thermal import DEFAULT_SPECS, ThermalSpec

__all__ = ["DEFAULT_LAYOUT", "CompartmentLayout"]


@dataclass(frozen=True)
class CompartmentLayout:
    id: str
    shelves: int
    columns: int
    thermal: ThermalSpec

    def __post_init__(self) -> None:
        if not self.id.isascii() or not self.id.replace("_", "").isalnum() or len(self.id) > 32:
            raise ValueError(f"compartment ids are 1-32 of A-Z a-z 0-9 _: {self.id!r}")
        if not 1 <= self.shelves <= MAX_GRID_SHELVES or not 1 <= self.columns <= MAX_GRID_COLUMNS:
            raise ValueError(f"a compartment has 1-{MAX_GRID_SHELVES} shelves of 1-{MAX_GRID_COLUMNS} slots")

    @property
    def slots(self) -> int:
        return self.shelves * self.columns

    def position(self, slot: int) -> tuple[int, int]:
        """(shelf, column) of a slot; `ValueError` if there is no such slot."""
        if not 0 <= slot < self.slots:
            raise ValueError(f"{self.id} has slots 0-{self.slots - 1}, not {slot}")
        return divmod(slot, self.columns)


DEFAULT_LAYOUT: tuple[CompartmentLayout, ...] = (
    CompartmentLayout("fridge", 3, 6, DEFAULT_SPECS["fridge"]),
    CompartmentLayout("door", 3, 3, DEFAULT_SPECS["door"]),
    CompartmentLayout("crisper", 1, 3, DEFAULT_SPECS["crisper"]),
    CompartmentLayout("freezer", 2, 4, DEFAULT_SPECS["freezer"]),
)
"""The four compartments of the contract: 18 fridge slots, 9 on the door, 3 in the crisper, 8 frozen."""
