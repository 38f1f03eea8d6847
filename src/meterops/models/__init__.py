"""All ORM classes, one module per aggregate; importing this package registers them all."""

from meterops.models import commands as commands
from meterops.models import diagnostics as diagnostics
from meterops.models import field as field
from meterops.models import meter_shop as meter_shop
from meterops.models.accounts import Account, Customer
from meterops.models.audit import AuditEvent
from meterops.models.auth import SignInAttempt, WebSession
from meterops.models.comm import Collector, CommModule, CommModuleLink
from meterops.models.fleet_import import FleetImport
from meterops.models.grid import Feeder, Transformer
from meterops.models.ingest import ImportJournal
from meterops.models.meters import FirmwareRevision, Installation, Meter, MeterProgram
from meterops.models.org import Role, Territory, User, UserTerritory
from meterops.models.premises import Premise, ServicePoint
from meterops.models.workforce import Technician
from meterops.models.workorders import (
    DayPlan,
    DayPlanActivity,
    DayPlanOrder,
    DayPlanRoute,
    TechnicianDay,
    TruckStock,
    WorkOrder,
)

__all__ = [
    "Account",
    "AuditEvent",
    "Collector",
    "CommModule",
    "CommModuleLink",
    "Customer",
    "DayPlan",
    "DayPlanActivity",
    "DayPlanOrder",
    "DayPlanRoute",
    "Feeder",
    "FirmwareRevision",
    "FleetImport",
    "ImportJournal",
    "Installation",
    "Meter",
    "MeterProgram",
    "Premise",
    "Role",
    "ServicePoint",
    "SignInAttempt",
    "Technician",
    "TechnicianDay",
    "Territory",
    "Transformer",
    "TruckStock",
    "User",
    "UserTerritory",
    "WebSession",
    "WorkOrder",
]
