"""Every central-system command, answered by the emulated chargers of both versions."""

from __future__ import annotations

import pytest

from central_system.errors import CommandFailed
from tests.conftest import VALID_TOKEN

SETTINGS = {
    "1.6": ("HeartbeatInterval", "MeterValueSampleInterval", "NoSuchKey"),
    "2.0.1": (
        "OCPPCommCtrlr.HeartbeatInterval",
        "SampledDataCtrlr.TxUpdatedInterval",
        "OCPPCommCtrlr.NoSuchVariable",
    ),
}


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_configuration_commands(csms, charger_factory, version):
    charger = await charger_factory(f"CP-CFG-{version}", version)
    link = csms.gateway.link(charger.id)
    heartbeat, sample, unknown = SETTINGS[version]
    assert await link.set_setting(sample, "15") == "Accepted"
    values = await link.get_settings([heartbeat, sample, unknown])
    assert values == {heartbeat: "300", sample: "15", unknown: None}
    assert await link.set_setting(heartbeat, "120") == "Accepted"
    assert charger.heartbeat_interval_s == 120


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_availability_trigger_unlock_reset(csms, charger_factory, version):
    charger = await charger_factory(f"CP-CMD-{version}", version, reconnect_initial_s=0.05)
    link = csms.gateway.link(charger.id)

    assert await link.change_availability(1, operative=False) == "Accepted"
    await charger.settle()
    connector = (await csms.service.get_charger(charger.id)).connector(1)
    assert connector.raw_status == "Unavailable"
    assert await link.change_availability(1, operative=True) == "Accepted"

    assert await link.trigger_message("Heartbeat") == "Accepted"
    assert await link.trigger_message("StatusNotification", 1) == "Accepted"
    await charger.settle()

    await charger.plug_in(1)
    await charger.start_transaction(1, VALID_TOKEN)
    await charger.settle()
    # Going inoperative during a transaction is scheduled for its end.
    assert await link.change_availability(1, operative=False) == "Scheduled"
    assert await link.unlock_connector(1) == "Unlocked"  # unlocking ends the transaction
    await charger.settle()
    assert charger.evse(1).transaction is None
    assert charger.evse(1).operative is False
    (session,) = await csms.service.list_sessions(charger.id)
    assert session.stop_reason == ("UnlockCommand" if version == "1.6" else "Other")

    assert await link.reset(hard=False) == "Accepted"
    await charger.settle()
    await charger.wait_online()
    assert (await csms.service.get_charger(charger.id)).last_boot_at is not None


async def test_remote_stop_of_an_unknown_transaction_is_rejected(csms, charger_factory):
    charger = await charger_factory("CP-NOTX", "2.0.1")
    assert await csms.gateway.link(charger.id).remote_stop("no-such-tx") == "Rejected"


async def test_a_command_to_a_vanished_charger_fails_fast(csms, charger_factory):
    charger = await charger_factory("CP-VANISH", "1.6")
    link = csms.gateway.link(charger.id)
    await charger.power_off()
    with pytest.raises(CommandFailed):
        await link.get_settings(["HeartbeatInterval"])


async def test_reset_on_idle_waits_for_the_transaction(csms, charger_factory):
    charger = await charger_factory("CP-IDLE", "2.0.1", reconnect_initial_s=0.05)
    await charger.plug_in(1)
    await charger.start_transaction(1, VALID_TOKEN)
    link = csms.gateway.link(charger.id)
    booted = (await csms.service.get_charger(charger.id)).last_boot_at
    assert await link.reset(hard=False) == "Scheduled"
    assert charger.evse(1).transaction is not None  # still charging
    await charger.stop_transaction(1, "Local")
    await charger.settle()
    await charger.wait_online()
    assert (await csms.service.get_charger(charger.id)).last_boot_at > booted
