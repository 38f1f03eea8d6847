"""Thresholds of the detectors, as one frozen parameter bundle.

Pure module: standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DetectParams"]


@dataclass(frozen=True, slots=True)
class DetectParams:
    """What counts as an exception.

    Attributes:
        non_comm_hours: A meter with no interval read for this long is non-communicating. [h]
        min_read_success: A meter whose read success over the last ``comm_days`` is below
            this share is non-communicating (intermittent). [0-1]
        comm_days: Days over which read success is judged. [d]
        rssi_fall_db: A meter whose RSSI fell by at least this much over the window (the
            fall of the least-squares line through its daily reports,
            ``detect.comm.rssi_trend``) while still reading is degrading: a weak mesh path
            before it fails. [dB]
        rssi_min_reports: ...over at least this many daily RSSI reports...
        rssi_trend_t: ...with a slope at least this many standard errors below zero (a
            steady fade, not day-to-day scatter). [-]
        outage_share: A transformer (feeder) is in an outage when at least this share of its
            meters logged a power loss or last gasp with no restore since. [0-1]
        zero_days: Days of zero delivered energy (with reads arriving) on an active account. [d]
        zero_kwh: At most this much energy over ``zero_days`` counts as zero. [kWh]
        zero_gap_days: Days without reads the zero-consumption test may skip over. [d]
        inactive_kwh_per_day: Delivered energy above this on an inactive account. [kWh/d]
        inactive_days: Days over which inactive usage is judged. [d]
        recent_days: Days of the "current bill" in high-bill and drop comparisons. [d]
        baseline_days: At least this many earlier days form the customer's own history. [d]
        high_bill_ratio: Recent over baseline daily energy, weather-adjusted, at least this. [-]
        high_bill_min_increase_kwh: And at least this much more per day. [kWh/d]
        tou_share_ratio: A TOU meter whose on-peak share of energy is at least this multiple
            of its rate peers' median is a high bill (misprogrammed periods). [-]
        voltage_band: Hourly min/max voltage outside nominal × (1 ± band). [0-1]
        voltage_min_hours: Hours out of band (or voltage events) to raise an exception. [h]
        suspect_share: Share of intervals flagged suspect to raise an exception. [0-1]
        clock_error_days: Days with a clock error event to raise an exception. [d]
        mismatch_kwh: Register advance and interval sum differ by more than this... [kWh]
        mismatch_share: ...and by more than this share of the advance. [0-1]
        hot_socket_events: High-temperature alarms in the window to raise an exception.
        tamper_events: Tamper events in the window to raise an exception.
        reverse_events: Reverse-energy events in the window to raise an exception.
        drop_ratio: A consumption drop: weather-adjusted use after the step at most this
            share of the use before it. [-]
        drop_min_days_after: Days after the step before a drop is raised. [d]
        drop_min_kwh_per_day: Use before the step at least this. [kWh/d]
        drop_hold_ratio: No adjusted day after the step reaches this share of the use
            before it (the drop holds). [-]
        crossed_radius_m: Crossed meters: the partner's premise within this distance. [m]
        crossed_low_share: ...fell to at most this share of its earlier median use. [-]
        crossed_min_days_after: ...for at least this many days, as long as the account at
            the other premise has been closed. [d]
    """

    non_comm_hours: float = 24.0
    min_read_success: float = 0.75
    comm_days: int = 3
    rssi_fall_db: float = 5.0
    rssi_min_reports: int = 8
    rssi_trend_t: float = 4.0
    outage_share: float = 0.3
    zero_days: int = 3
    zero_kwh: float = 0.01
    zero_gap_days: int = 2
    inactive_kwh_per_day: float = 1.0
    inactive_days: int = 3
    recent_days: int = 7
    baseline_days: int = 7
    high_bill_ratio: float = 1.6
    high_bill_min_increase_kwh: float = 5.0
    tou_share_ratio: float = 1.2
    voltage_band: float = 0.1
    voltage_min_hours: int = 3
    suspect_share: float = 0.05
    clock_error_days: int = 2
    mismatch_kwh: float = 1.0
    mismatch_share: float = 0.02
    hot_socket_events: int = 1
    tamper_events: int = 1
    reverse_events: int = 1
    drop_ratio: float = 0.6
    drop_min_days_after: int = 3
    drop_min_kwh_per_day: float = 3.0
    drop_hold_ratio: float = 0.8
    crossed_radius_m: float = 150.0
    crossed_low_share: float = 0.25
    crossed_min_days_after: int = 2
