"""Errors of the assets capability."""

from __future__ import annotations

from meterops.assets.registers import ReadBelowPreviousError
from meterops.errors import ConflictError, InvalidInputError, NotFoundError

__all__ = [
    "IncompatibleFormError",
    "MeterNotFoundError",
    "ReadBelowPreviousError",
    "SerialAlreadyInstalledError",
    "ServicePointNotFoundError",
    "ServicePointOccupiedError",
]


class MeterNotFoundError(NotFoundError):
    """No meter with that serial number."""

    default_code = "meter.not_found"

    def __init__(self, serial_number: str) -> None:
        super().__init__(
            f"No meter with serial number '{serial_number}'. Check the serial on the nameplate "
            "or import the meter first (meterops fleet import meters.csv).",
            details={"serial_number": serial_number},
        )


class ServicePointNotFoundError(NotFoundError):
    """No service point with that number."""

    default_code = "service_point.not_found"

    def __init__(self, service_point_number: str) -> None:
        super().__init__(
            f"No service point '{service_point_number}'.",
            details={"service_point_number": service_point_number},
        )


class IncompatibleFormError(InvalidInputError):
    """The meter's form does not fit the service point's socket."""

    default_code = "meter.incompatible_form"

    def __init__(
        self,
        *,
        serial_number: str,
        form: str,
        service_point_number: str,
        service_type: str,
        compatible: list[str],
    ) -> None:
        super().__init__(
            f"Meter {serial_number} is form {form}, but service point {service_point_number} "
            f"({service_type}) takes forms {', '.join(compatible) or 'none'}; "
            "pick a meter of a compatible form.",
            details={
                "serial_number": serial_number,
                "form": form,
                "service_point_number": service_point_number,
                "service_type": service_type,
                "compatible_forms": compatible,
            },
        )


class SerialAlreadyInstalledError(ConflictError):
    """The meter is already installed somewhere."""

    default_code = "meter.already_installed"

    def __init__(self, *, serial_number: str, service_point_number: str) -> None:
        super().__init__(
            f"Meter {serial_number} is already installed at service point "
            f"{service_point_number}; remove or exchange it there first.",
            details={"serial_number": serial_number, "installed_at": service_point_number},
        )


class ServicePointOccupiedError(ConflictError):
    """The service point already has a meter installed."""

    default_code = "service_point.occupied"

    def __init__(self, *, service_point_number: str, serial_number: str) -> None:
        super().__init__(
            f"Service point {service_point_number} already has meter {serial_number}; "
            "use an exchange to replace it.",
            details={"service_point_number": service_point_number, "installed": serial_number},
        )
