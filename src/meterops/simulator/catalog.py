"""Catalogue data of the simulated utility: vendors, meter models, firmware, programs, names.

Everything here is data (tuples of frozen records and plain dicts): meter models per form and
vendor with their firmware revisions, the network vendor's radios and collectors, the meter
programs (TOU schedules as ``assets/programs.py`` documents, including the tariff definition
and the misprogrammed variant whose shoulder period is wrong), rate codes, and name lists for
addresses and customers (fictional; phone numbers in the 555-01xx range, e-mail at
``example.com``).

Pure module: standard library only; must not import ``meterops.db``, ``models``, ``web``,
``cli`` or ``config``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "CORRECT_TOU_PROGRAM",
    "METER_MODELS",
    "MISPROGRAMMED_TOU_PROGRAM",
    "MODULE_MODELS",
    "NETWORK_VENDOR",
    "PROGRAMS",
    "RATE_PROGRAM",
    "MeterModel",
    "nerc_holidays",
    "program_documents",
]


@dataclass(frozen=True, slots=True)
class MeterModel:
    """A meter model the utility buys.

    Attributes:
        vendor: Manufacturer.
        model: Model name.
        forms: ANSI forms it is built in.
        meter_class: Current class.
        kh: Watt-hour constant. [Wh/rev]
        firmware: Firmware revisions with release dates, oldest first.
        weight: Relative share among models of the same forms.
        serial_prefix: First two digits of the vendor's badge numbers.
    """

    vendor: str
    model: str
    forms: tuple[str, ...]
    meter_class: str
    kh: float
    firmware: tuple[tuple[str, dt.date], ...]
    weight: float
    serial_prefix: str


_D = dt.date
METER_MODELS: Final[tuple[MeterModel, ...]] = (
    MeterModel(
        "Itron",
        "Riva CENTRON",
        ("2S", "12S"),
        "CL200",
        7.2,
        (("4.1.9", _D(2021, 3, 2)), ("4.2.17", _D(2023, 5, 16)), ("4.3.2", _D(2025, 2, 11))),
        0.45,
        "36",
    ),
    MeterModel(
        "Landis+Gyr",
        "E350 FOCUS AXe",
        ("2S", "12S"),
        "CL200",
        7.2,
        (("5.1.4", _D(2020, 9, 1)), ("5.2.0", _D(2024, 1, 22))),
        0.30,
        "41",
    ),
    MeterModel(
        "Honeywell",
        "REXU",
        ("2S", "12S"),
        "CL200",
        7.2,
        (("3.0.11", _D(2019, 6, 3)), ("3.1.2", _D(2022, 8, 30))),
        0.15,
        "52",
    ),
    MeterModel(
        "Aclara",
        "I-210+c",
        ("2S",),
        "CL320",
        12.0,
        (("2.8.1", _D(2021, 11, 8)), ("2.9.0", _D(2024, 6, 4))),
        0.10,
        "63",
    ),
    MeterModel(
        "Itron",
        "SENTINEL",
        ("9S", "16S"),
        "CL20",
        1.8,
        (("6.0.3", _D(2020, 4, 14)), ("6.1.0", _D(2023, 10, 3))),
        0.5,
        "37",
    ),
    MeterModel(
        "Landis+Gyr",
        "E650 S4x",
        ("9S", "16S"),
        "CL20",
        1.8,
        (("7.4.2", _D(2021, 2, 9)), ("7.5.1", _D(2024, 3, 19))),
        0.3,
        "42",
    ),
    MeterModel(
        "Honeywell",
        "A3 ALPHA",
        ("9S", "16S"),
        "CL20",
        1.8,
        (("4.6.0", _D(2019, 12, 2)),),
        0.2,
        "53",
    ),
)
"""Meter models; self-contained 16S meters of the polyphase models are CL200 (see territory)."""

NETWORK_VENDOR: Final = "Itron"
"""Vendor of the RF mesh: collectors, relays and the radio (NIC) in every meter."""

MODULE_MODELS: Final[dict[str, tuple[str, str]]] = {
    "single_phase": ("Riva NIC 3.1", "3.1.44"),
    "polyphase": ("Riva NIC 3.1P", "3.1.44"),
}
"""Radio module model and firmware by meter family."""

COLLECTOR_MODELS: Final[dict[str, str]] = {"collector": "Riva Access Point", "router": "Riva Relay"}
"""Mesh infrastructure models by kind."""

TOU_COHORT: Final = ("Itron", "Riva CENTRON", "4.2.17")
"""(vendor, model, firmware) of the cohort the misprogrammed TOU program was pushed to."""

TOU_PUSH_DAYS_BEFORE_START: Final = 45
"""The vendor-side program change happened this many days before the first simulated day."""


def nerc_holidays(years: range) -> list[dt.date]:
    """The six NERC off-peak holidays (Sunday observed on Monday) for the given years.

    Args:
        years: Calendar years.

    Returns:
        Holiday dates, sorted.

    Examples:
        >>> [d.isoformat() for d in nerc_holidays(range(2026, 2027))][:3]
        ['2026-01-01', '2026-05-25', '2026-07-04']
    """
    days: list[dt.date] = []
    for year in years:

        def nth_weekday(month: int, weekday: int, n: int, y: int = year) -> dt.date:
            first = dt.date(y, month, 1)
            return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))

        last_may = dt.date(year, 5, 31)
        fixed = [dt.date(year, 1, 1), dt.date(year, 7, 4), dt.date(year, 12, 25)]
        fixed = [d + dt.timedelta(days=1) if d.weekday() == 6 else d for d in fixed]
        days += [
            *fixed,
            last_may - dt.timedelta(days=last_may.weekday()),  # Memorial Day
            nth_weekday(9, 0, 1),  # Labor Day
            nth_weekday(11, 3, 4),  # Thanksgiving
        ]
    return sorted(days)


_HOLIDAYS: Final = [d.isoformat() for d in nerc_holidays(range(2024, 2031))]
_OFF: Final = [["00:00", "off_peak"]]


def _tou(summer: list[list[str]], winter: list[list[str]]) -> dict[str, Any]:
    return {
        "seasons": [
            {"name": "summer", "start": "06-01", "end": "09-30"},
            {"name": "winter", "start": "10-01", "end": "05-31"},
        ],
        "periods": {
            "summer": {"weekday": summer, "weekend": _OFF, "holiday": _OFF},
            "winter": {"weekday": winter, "weekend": _OFF, "holiday": _OFF},
        },
        "holidays": {"calendar": None, "subdivision": None, "extra_dates": _HOLIDAYS},
    }


_FLAT: Final[dict[str, Any]] = {
    "seasons": [{"name": "all_year", "start": "01-01", "end": "12-31"}],
    "periods": {
        "all_year": {
            "weekday": [["00:00", "total"]],
            "weekend": [["00:00", "total"]],
            "holiday": [["00:00", "total"]],
        }
    },
    "holidays": {"calendar": None, "subdivision": None, "extra_dates": []},
}

# Residential TOU as the tariff defines it: a shoulder (mid-peak) either side of on-peak.
_RTOU_SUMMER: Final = [
    ["00:00", "off_peak"],
    ["07:00", "mid_peak"],
    ["14:00", "on_peak"],
    ["19:00", "mid_peak"],
    ["21:00", "off_peak"],
]
_RTOU_WINTER: Final = [
    ["00:00", "off_peak"],
    ["06:00", "mid_peak"],
    ["17:00", "on_peak"],
    ["20:00", "mid_peak"],
    ["22:00", "off_peak"],
]
# The misprogrammed variant (standards.md §10.4): the evening shoulder is missing, so on-peak
# runs on through it; every account on it shifts the same way, clustered at 19:00-21:00
# (summer) and 20:00-22:00 (winter) on weekdays, and pays more.
_WRONG_SUMMER: Final = [
    ["00:00", "off_peak"],
    ["07:00", "mid_peak"],
    ["14:00", "on_peak"],
    ["21:00", "off_peak"],
]
_WRONG_WINTER: Final = [
    ["00:00", "off_peak"],
    ["06:00", "mid_peak"],
    ["17:00", "on_peak"],
    ["22:00", "off_peak"],
]
_LGS_SUMMER: Final = [
    ["00:00", "off_peak"],
    ["08:00", "mid_peak"],
    ["12:00", "on_peak"],
    ["20:00", "mid_peak"],
    ["22:00", "off_peak"],
]
_LGS_WINTER: Final = [["00:00", "off_peak"], ["08:00", "mid_peak"], ["22:00", "off_peak"]]

CORRECT_TOU_PROGRAM: Final = "RES-TOU-2024"
MISPROGRAMMED_TOU_PROGRAM: Final = "RES-TOU-2024B"

PROGRAMS: Final[tuple[dict[str, Any], ...]] = (
    {
        "program_code": "RTOU-TARIFF",
        "name": "Rate RTOU as filed (tariff definition)",
        "description": "Reference definition of residential rate RTOU; no meter carries it.",
        "tariff_code": "RTOU",
        "channels": ["kwh_delivered"],
        "tou_schedule": _tou(_RTOU_SUMMER, _RTOU_WINTER),
    },
    {
        "program_code": "RES-STD-2022",
        "name": "Residential standard",
        "tariff_code": "RS",
        "channels": ["kwh_delivered"],
        "tou_schedule": _FLAT,
    },
    {
        "program_code": CORRECT_TOU_PROGRAM,
        "name": "Residential TOU 2024",
        "tariff_code": "RTOU",
        "channels": ["kwh_delivered"],
        "tou_schedule": _tou(_RTOU_SUMMER, _RTOU_WINTER),
    },
    {
        "program_code": MISPROGRAMMED_TOU_PROGRAM,
        "name": "Residential TOU 2024 (rev B)",
        "description": "Pushed by the vendor with a firmware update to one model revision.",
        "tariff_code": "RTOU",
        "channels": ["kwh_delivered"],
        "tou_schedule": _tou(_WRONG_SUMMER, _WRONG_WINTER),
    },
    {
        "program_code": "RES-NEM-2023",
        "name": "Residential net metering",
        "tariff_code": "RNEM",
        "channels": ["kwh_delivered", "kwh_received"],
        "tou_schedule": _FLAT,
    },
    {
        "program_code": "GS-DMD-2021",
        "name": "General service with 15-minute demand",
        "tariff_code": "GS",
        "demand_interval_min": 15,
        "demand_method": "block",
        "channels": ["kwh_delivered", "kw_demand"],
        "tou_schedule": _FLAT,
    },
    {
        "program_code": "LGS-TOU-2023",
        "name": "Large general service TOU with rolling demand",
        "tariff_code": "LGS",
        "demand_interval_min": 15,
        "demand_method": "rolling",
        "demand_subinterval_min": 5,
        "channels": ["kwh_delivered", "kw_demand"],
        "tou_schedule": _tou(_LGS_SUMMER, _LGS_WINTER),
    },
)
"""Meter programs as ``programs.yaml`` entries (``fleet/programs.py``)."""

RATE_PROGRAM: Final[dict[str, str]] = {
    "RS": "RES-STD-2022",
    "RTOU": CORRECT_TOU_PROGRAM,
    "RNEM": "RES-NEM-2023",
    "GS": "GS-DMD-2021",
    "LGS": "LGS-TOU-2023",
}
"""The program a meter on each rate carries (when nothing went wrong)."""


def program_documents() -> list[dict[str, Any]]:
    """The program entries, ready for ``fleet.programs.render_programs_yaml``."""
    return [dict(p) for p in PROGRAMS]


# Names ---------------------------------------------------------------------------------------

TOWN_NAMES: Final = (
    "Prairie Junction",
    "Cedar Bend",
    "Willow Falls",
    "Maple Grove",
    "Elk Crossing",
    "Bluestem",
    "Harlan Springs",
    "Oak Hollow",
    "Riverton",
    "Sutter Mills",
    "Kettle Creek",
    "Fairmont",
    "Garnet",
    "Linden",
    "North Ames Ridge",
    "Pioneer",
    "Redfield",
    "Stanton",
    "Twin Oaks",
    "Vinton Bluff",
    "West Haven",
    "Ashgrove",
    "Brookline",
    "Clearwater",
)
STREET_NAMES: Final = (
    "Main",
    "Oak",
    "Maple",
    "Elm",
    "Cedar",
    "Walnut",
    "Pine",
    "Washington",
    "Lincoln",
    "Jefferson",
    "Madison",
    "Park",
    "Lake",
    "Hill",
    "Prairie",
    "Church",
    "Mill",
    "Spring",
    "Locust",
    "Hickory",
    "Birch",
    "Sycamore",
    "Chestnut",
    "Grant",
    "Jackson",
    "Franklin",
    "Adams",
    "Monroe",
    "Willow",
    "Ridge",
    "Meadow",
    "Sunset",
    "Highland",
    "Center",
    "Market",
    "School",
    "Railroad",
    "Orchard",
    "Forest",
    "Harrison",
)
FIRST_NAMES: Final = (
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Andrew",
    "Emily",
    "Joshua",
    "Donna",
    "Kevin",
    "Michelle",
    "Brian",
    "Carol",
    "Maria",
    "Luis",
    "Ana",
    "Wei",
    "Priya",
    "Ahmed",
    "Fatima",
    "Kenji",
    "Olga",
    "Tomas",
)
LAST_NAMES: Final = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Nguyen",
    "Hill",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Olson",
    "Larson",
    "Peterson",
    "Schmidt",
    "Meyer",
    "Hansen",
    "Kowalski",
)
BUSINESS_WORDS: Final = (
    "Hardware",
    "Grocery",
    "Diner",
    "Dental",
    "Auto Repair",
    "Bakery",
    "Pharmacy",
    "Bank",
    "Laundromat",
    "Veterinary Clinic",
    "Print Shop",
    "Fitness",
    "Insurance",
    "Pizza",
    "Florist",
    "Library",
    "Post Office",
    "Church",
    "Salon",
    "Tavern",
)
INDUSTRY_WORDS: Final = (
    "Grain Elevator",
    "Feed Mill",
    "Cold Storage",
    "Foundry",
    "Plastics",
    "Ethanol",
    "Packaging",
    "Machine Works",
    "Distribution Center",
    "Creamery",
    "Water Treatment",
    "Hospital",
    "High School",
    "Data Center",
)
CRITICAL_WORDS: Final = ("Hospital", "Water Treatment", "High School", "Library")
"""Large C&I businesses flagged as critical facilities."""
