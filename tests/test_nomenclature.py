import pytest

from meterops.nomenclature import (
    CHANNELS,
    CIM_EVENTS,
    CURRENT_CLASSES,
    EVENT_BY_NAME,
    METER_FORMS,
    SERVICE_TYPES,
    ServiceType,
    compatible_forms,
    decode_cim_event_code,
)


def test_every_event_code_decodes_and_names_are_unique() -> None:
    for code, event in CIM_EVENTS.items():
        assert decode_cim_event_code(code)[0] == 3
        assert EVENT_BY_NAME[event.name] is event
    assert len(EVENT_BY_NAME) == len(CIM_EVENTS)


@pytest.mark.parametrize("bad", ["3.26.0", "3.26.0.x", "a.b.c.d", "", "3.26.-1.47"])
def test_malformed_event_codes_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="four dot-separated"):
        decode_cim_event_code(bad)


def test_the_codes_the_product_relies_on_match_the_standard_sheet() -> None:
    assert EVENT_BY_NAME["last_gasp"].code == "3.26.136.47"
    assert EVENT_BY_NAME["power_restored"].code == "3.26.0.216"
    assert EVENT_BY_NAME["cover_removed"].code == "3.12.29.212"
    assert EVENT_BY_NAME["high_temperature"].code == "3.35.0.40"
    assert EVENT_BY_NAME["load_side_voltage"].code == "3.31.1.143"
    assert not EVENT_BY_NAME["meter_removed"].verified


def test_residential_sockets_take_2s_and_ct_rated_wye_sockets_take_9s() -> None:
    assert compatible_forms(ServiceType.SINGLE_PHASE_3W, transformer_rated=False) == ["2S"]
    assert "9S" in compatible_forms(ServiceType.THREE_PHASE_4W_WYE, transformer_rated=True)
    assert "9S" not in compatible_forms(ServiceType.SINGLE_PHASE_3W, transformer_rated=False)
    assert "12S" in compatible_forms(ServiceType.NETWORK_3W, transformer_rated=False)


def test_forms_classes_and_services_are_consistent() -> None:
    for form in METER_FORMS.values():
        assert form.services
        for current_class in form.typical_classes:
            assert CURRENT_CLASSES[current_class].self_contained == form.self_contained
    assert CURRENT_CLASSES["CL200"].test_amperes_a == 30.0
    for info in SERVICE_TYPES.values():
        assert info.blondel_elements == info.wires - 1


def test_energy_channels_are_in_kwh() -> None:
    assert CHANNELS["kwh_delivered"].unit == "kWh"
    assert CHANNELS["kwh_delivered"].is_energy
    assert not CHANNELS["voltage_v"].is_energy
