"""The landing zone: keys and files cannot lead outside its root; changes are keyed on content and wait
until a partition is complete."""

import time

import pytest

from revcast import landing
from revcast.landing import UnsafeLandingPath, look_for_changes

HEADER = b"date,customer_id,#api_calls(Product_1),storage_capacity_used(Product_2)\n"


def _land(root, day, body=b"2023-01-05,C1,10,1.5\n"):
    folder = root / "usage" / f"date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"usage_{day}.csv").write_bytes(HEADER + body)
    return folder / f"usage_{day}.csv"


@pytest.mark.parametrize(
    "key", ["../../etc", "2023-01-05/../../x", "2023-01-05' OR 1=1 --", "2023-1-5", "", "2023-01-05\n"]
)
def test_a_key_that_is_not_a_date_never_becomes_a_path(tmp_path, key):
    with pytest.raises(UnsafeLandingPath):
        landing.partition_dir(tmp_path, "usage", key)
    with pytest.raises(UnsafeLandingPath):
        landing.partition_files(tmp_path, "usage", key)


def test_monthly_keys_are_months(tmp_path):
    assert landing.partition_dir(tmp_path, "invoices", "2023-01").name == "month=2023-01"
    with pytest.raises(UnsafeLandingPath):
        landing.partition_dir(tmp_path, "invoices", "2023-01-05")


def test_a_link_out_of_the_root_is_refused(tmp_path):
    root, outside = tmp_path / "landing", tmp_path / "secret.csv"
    outside.write_bytes(HEADER)
    folder = root / "usage" / "date=2023-01-05"
    folder.mkdir(parents=True)
    (folder / "usage.csv").symlink_to(outside)
    with pytest.raises(UnsafeLandingPath, match="outside the landing root"):
        landing.partition_files(root, "usage", "2023-01-05")


def test_folders_whose_key_is_not_a_date_are_not_partitions(tmp_path):
    _land(tmp_path, "2023-01-05")
    weird = tmp_path / "usage" / "date=x'; DROP TABLE clean.usage; --"
    weird.mkdir()
    (weird / "usage.csv").write_bytes(HEADER)
    assert landing.available_keys(tmp_path, "usage") == ["2023-01-05"]


def test_changes_are_content_and_wait_for_quiet_or_a_marker(tmp_path):
    path = _land(tmp_path, "2023-01-05")
    now = time.time()
    look = look_for_changes(tmp_path, "usage", ["2023-01-05"], None, now=now, settle_seconds=60)
    assert (look.changed, look.settling) == ([], ["2023-01-05"])  # just written
    look = look_for_changes(tmp_path, "usage", ["2023-01-05"], look.state, now=now + 61, settle_seconds=60)
    assert (look.changed, look.settling) == (["2023-01-05"], [])
    state = look.state

    path.write_bytes(path.read_bytes())  # rewritten, same bytes: settles, then nothing to do
    look = look_for_changes(tmp_path, "usage", ["2023-01-05"], state, now=now + 200, settle_seconds=60)
    assert (look.changed, look.settling) == ([], ["2023-01-05"])
    look = look_for_changes(tmp_path, "usage", ["2023-01-05"], look.state, now=now + 300, settle_seconds=60)
    assert (look.changed, look.settling) == ([], [])

    path.write_bytes(HEADER + b"2023-01-05,C1,11,1.5\n")  # new content, still arriving
    look = look_for_changes(tmp_path, "usage", ["2023-01-05"], state, now=time.time(), settle_seconds=60)
    assert (look.changed, look.settling) == ([], ["2023-01-05"])
    (path.parent / landing.SUCCESS_MARKER).touch()  # the producer marks the day complete
    look = look_for_changes(tmp_path, "usage", ["2023-01-05"], look.state, now=time.time(), settle_seconds=60)
    assert look.changed == ["2023-01-05"]
