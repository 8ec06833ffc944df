"""The team manifest at rest: encrypted, authenticated, refused when changed."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from core.codes import PickupCode
from core.contract import TeamManifest, TeamPermit
from edge_lane.mobile.errors import ManifestKeyError, ManifestTamperedError
from edge_lane.mobile.manifest import DeviceManifest, absorb
from edge_lane.mobile.vault import ManifestVault, manifest_key, new_key_text
from tests.unit.test_mobile_offline import NOW

KEY = bytes(range(32))


def state() -> DeviceManifest:
    owner = PickupCode.generate()
    permit = TeamPermit(
        permit_id="p1", number="MPP/1", holder="I W***** S******", nik_masked="5103********0001",
        plate="DK1234AB", code_sha256=owner.sha256, place="Mengwi", date="2026-05-04",
    )  # fmt: skip
    return absorb(DeviceManifest(), TeamManifest(team="a", permits=[permit]), NOW)


def vault(path: Path, key: bytes = KEY, team: str = "a") -> ManifestVault:
    return ManifestVault(path / "manifest.enc", key, site="badung", team=team)


def test_a_stored_manifest_reads_back_the_same(tmp_path: Path) -> None:
    original = state()
    vault(tmp_path).save(original)
    assert vault(tmp_path).load() == original


def test_the_file_holds_no_personal_data_in_clear(tmp_path: Path) -> None:
    vault(tmp_path).save(state())
    blob = (tmp_path / "manifest.enc").read_bytes()
    assert b"5103" not in blob
    assert b"DK1234AB" not in blob
    assert b"MPP/1" not in blob
    assert (tmp_path / "manifest.enc").stat().st_mode & 0o077 == 0


def test_nothing_stored_yet_is_none(tmp_path: Path) -> None:
    assert vault(tmp_path).load() is None


@pytest.mark.parametrize("offset", [0, 8, 20, -1])
def test_a_changed_byte_anywhere_is_refused(tmp_path: Path, offset: int) -> None:
    vault(tmp_path).save(state())
    path = tmp_path / "manifest.enc"
    blob = bytearray(path.read_bytes())
    blob[offset] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(ManifestTamperedError) as refused:
        vault(tmp_path).load()
    assert refused.value.message.startswith("Manifest tersimpan")
    assert "Stored manifest" in refused.value.message


def test_a_cut_file_another_key_or_another_teams_file_is_refused(tmp_path: Path) -> None:
    vault(tmp_path).save(state())
    with pytest.raises(ManifestTamperedError):
        vault(tmp_path, key=bytes(32)).load()
    with pytest.raises(ManifestTamperedError):
        vault(tmp_path, team="b").load()
    path = tmp_path / "manifest.enc"
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(ManifestTamperedError):
        vault(tmp_path).load()


def test_the_key_comes_from_the_named_variable_as_base64_or_hex() -> None:
    text = new_key_text()
    assert len(manifest_key("K", {"K": text})) == 32
    assert manifest_key("K", {"K": KEY.hex()}) == KEY
    assert manifest_key("K", {"K": base64.b64encode(KEY).decode()}) == KEY


@pytest.mark.parametrize("value", ["", "short", "zz" * 32, base64.b64encode(bytes(16)).decode()])
def test_a_missing_or_weak_key_is_a_configuration_error(value: str) -> None:
    with pytest.raises(ManifestKeyError) as refused:
        manifest_key("DRIVETHRU_MANIFEST_KEY", {"DRIVETHRU_MANIFEST_KEY": value})
    assert "DRIVETHRU_MANIFEST_KEY" in refused.value.message
