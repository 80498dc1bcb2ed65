"""A fleet of virtual households and fridges on an accelerated clock.

It drives the system only through the contract: each virtual fridge runs the real
`freshtap.device` agent over MQTT, and its household accepts offers over the HTTP API.
`MosquittoBroker` starts a throwaway local broker and `BusObserver` records what crosses it,
for tests and local runs.
"""

from .acceptor import ProposalAcceptor
from .catalog import CATALOG, Product, gtin14
from .fleet import Fleet
from .household import Household
from .light_fleet import LightFleet, LightFleetStats
from .mosquitto import MosquittoBroker, MosquittoError, find_mosquitto
from .observer import BusObserver, Observed
from .stats import FleetStats
from .virtual_fridge import SimFridge, VirtualFridge

__all__ = [
    "CATALOG",
    "BusObserver",
    "Fleet",
    "FleetStats",
    "Household",
    "LightFleet",
    "LightFleetStats",
    "MosquittoBroker",
    "MosquittoError",
    "Observed",
    "Product",
    "ProposalAcceptor",
    "SimFridge",
    "VirtualFridge",
    "find_mosquitto",
    "gtin14",
]
