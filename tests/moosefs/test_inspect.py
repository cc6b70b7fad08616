import os

import pytest

from moosefs import history
from moosefs import inspect as ins
from moosefs.history import Known
from moosefs.inspect import Repair
from moosefs.owner import Owner
from tests.synthetic import METAID, write_changelog, write_image

OLD, NEW = 1_700_000_000, 1_700_001_000  # mtimes: older, newer


def ml_dir(path, base=16294, last=16802, mtime=NEW):
    write_image(str(path / "metadata_ml.mfs.back"), base, mtime=mtime)
    write_changelog(str(path / "changelog_ml_back.0.mfs"), range(9874, base), mtime=mtime)
    write_changelog(str(path / "changelog_ml_back.1.mfs"), [], mtime=mtime)
    write_changelog(str(path / "changelog_ml.0.mfs"), range(base, last + 1), mtime=mtime)


def kinds(found):
    return {(r.kind, r.name) for r in found.repairs}


def test_clean_metalogger_directory(tmp_path):
    ml_dir(tmp_path)
    found = ins.inspect(str(tmp_path), thorough=True)
    assert (found.verdict, found.version, found.metaid) == (ins.RESTORABLE, 16803, METAID)
    assert found.source == "metalogger" and found.repairs == []


def test_fast_and_thorough_agree_on_a_clean_directory(tmp_path):
    ml_dir(tmp_path)
    assert ins.inspect(str(tmp_path)).version == ins.inspect(str(tmp_path), thorough=True).version


def test_empty_directory(tmp_path):
    assert ins.inspect(str(tmp_path)).verdict == ins.EMPTY


def test_changelogs_without_image(tmp_path):
    write_changelog(str(tmp_path / "changelog_ml.0.mfs"), range(5, 50))
    found = ins.inspect(str(tmp_path))
    assert found.verdict == ins.NO_IMAGE and "no valid" in found.reason


def test_ids_disagree(tmp_path):
    ml_dir(tmp_path)
    write_image(str(tmp_path / "metadata_ml.tmp"), 16000, metaid=0x1234, mtime=NEW)
    found = ins.inspect(str(tmp_path))
    assert found.verdict == ins.IDS_DISAGREE and "0000000000001234" in found.reason


def test_hole_in_changelog_chain(tmp_path):
    write_image(str(tmp_path / "metadata_ml.mfs.back"), 16294)
    write_changelog(str(tmp_path / "changelog_ml.1.mfs"), range(16294, 16400))
    write_changelog(str(tmp_path / "changelog_ml.0.mfs"), range(16410, 16803))
    found = ins.inspect(str(tmp_path), thorough=True)
    assert found.verdict == ins.HOLE and found.version == 16400
    assert "16400 to 16409" in found.reason


def test_partial_last_line_is_trimmed_not_dropped(tmp_path):
    ml_dir(tmp_path)
    write_changelog(str(tmp_path / "changelog_ml.0.mfs"), range(16294, 16803),
                    partial=b"16803: 17956", mtime=NEW)
    found = ins.inspect(str(tmp_path), thorough=True)
    assert found.verdict == ins.RESTORABLE and found.version == 16803
    trim = [r for r in found.repairs if r.kind == Repair.TRIM]
    assert [r.name for r in trim] == ["changelog_ml.0.mfs"]
    assert trim[0].offset == os.path.getsize(tmp_path / "changelog_ml.0.mfs") - len(b"16803: 17956")


@pytest.mark.parametrize("master_mtime,ml_mtime", [(OLD, NEW), (NEW, OLD)])
def test_leftover_master_files_of_a_diverged_branch_are_set_aside(tmp_path, master_mtime,
                                                                  ml_mtime):
    # This node was master up to 21307 on a branch the cluster abandoned; its metalogger
    # has since followed the new master, which the cluster knows was another node. The
    # files' times do not matter: hand copies and clock steps make them lie.
    write_image(str(tmp_path / "metadata.mfs"), 21307, mtime=master_mtime)
    write_changelog(str(tmp_path / "changelog.0.mfs"), range(16803, 21307),
                    text="CREATE(1804,DIVERGENT)", mtime=master_mtime)
    ml_dir(tmp_path, mtime=ml_mtime)
    found = ins.inspect(str(tmp_path), thorough=True, known=Known(16700, False))
    assert (found.verdict, found.version, found.source) == (ins.RESTORABLE, 16803, "metalogger")
    assert {(Repair.SET_ASIDE, "metadata.mfs"), (Repair.SET_ASIDE, "changelog.0.mfs")} <= kinds(found)
    assert "last master (version 16700) was another node" in found.source_why


@pytest.mark.parametrize("master_mtime,ml_mtime", [(NEW, OLD), (OLD, NEW)])
def test_the_last_masters_own_newest_image_is_kept_over_older_metalogger_files(
        tmp_path, master_mtime, ml_mtime):
    # Clean demotion at 20000 and a cold start of the whole cluster: this node was the
    # last master, so its own files are the cluster's newest history.
    ml_dir(tmp_path, mtime=ml_mtime)
    write_image(str(tmp_path / "metadata.mfs"), 20000, mtime=master_mtime)
    found = ins.inspect(str(tmp_path), thorough=True, known=Known(20000, True))
    assert (found.verdict, found.version, found.source) == (ins.RESTORABLE, 20000, "master")
    assert (Repair.SET_ASIDE, "metadata_ml.mfs.back") in kinds(found)
    assert not any(r.name == "metadata.mfs" for r in found.repairs)


def test_the_last_masters_files_below_the_version_it_reached_yield_to_the_metalogger(tmp_path):
    # A crashed master whose own changelog lost its last lines: below the known version.
    ml_dir(tmp_path)
    write_image(str(tmp_path / "metadata.mfs.back"), 16294)
    write_changelog(str(tmp_path / "changelog.0.mfs"), range(16294, 16700))
    found = ins.inspect(str(tmp_path), thorough=True, known=Known(16750, True))
    assert (found.verdict, found.source, found.version) == (ins.RESTORABLE, "metalogger", 16803)


def test_unknown_cluster_history_with_higher_master_files_is_undecided(tmp_path):
    ml_dir(tmp_path)
    write_image(str(tmp_path / "metadata.mfs"), 21307)
    found = ins.inspect(str(tmp_path), thorough=True)
    assert (found.verdict, found.source, found.repairs) == (ins.UNDECIDED, "", [])
    assert "master files restore to 21307, metalogger files to 16803" in found.reason
    assert "to decide by hand, move the files" in found.reason


def test_last_master_whose_metalogger_files_are_higher_is_undecided(tmp_path):
    write_image(str(tmp_path / "metadata.mfs"), 15000)
    ml_dir(tmp_path)
    found = ins.inspect(str(tmp_path), known=Known(15000, True))
    assert found.verdict == ins.UNDECIDED and "cannot explain" not in found.reason
    assert "restore higher than its own" in found.reason


def test_the_fingerprint_of_the_last_change_proves_the_branch(tmp_path):
    ml_dir(tmp_path)  # its changes 16294..16802 read "ACCESS(1)"
    same = history.fingerprint(b"16499: 1795604984|ACCESS(1)\n")
    found = ins.inspect(str(tmp_path), thorough=True, known=Known(16500, False, same))
    assert found.verdict == ins.RESTORABLE
    assert ins.change_fingerprint(str(tmp_path), 16500) == same
    other = history.fingerprint(b"16499: 1795604984|CREATE(1,x)\n")
    diverged = ins.inspect(str(tmp_path), thorough=True, known=Known(16500, False, other))
    assert diverged.verdict == ins.DIVERGED and "change 16499 here differs" in diverged.reason
    # A fast inspection (monitor) reads no lines: no proof, no refusal.
    assert ins.inspect(str(tmp_path), known=Known(16500, False, other)).restorable


def test_master_files_below_metalogger_files_are_set_aside(tmp_path):
    write_image(str(tmp_path / "metadata.mfs"), 1460, mtime=NEW)
    ml_dir(tmp_path, mtime=OLD)
    found = ins.inspect(str(tmp_path))
    assert found.source == "metalogger" and found.version == 16803


def test_crashed_master_directory_restores_from_its_own_files(tmp_path):
    write_image(str(tmp_path / "metadata.mfs.back"), 1460)
    write_changelog(str(tmp_path / "changelog.1.mfs"), range(1, 1460))
    write_changelog(str(tmp_path / "changelog.0.mfs"), range(1460, 4105))
    found = ins.inspect(str(tmp_path), thorough=True)
    assert (found.verdict, found.version, found.source) == (ins.RESTORABLE, 4105, "master")


def test_stale_higher_backup_from_abandoned_branch(tmp_path):
    write_image(str(tmp_path / "metadata_ml.mfs.back"), 17763)
    write_image(str(tmp_path / "metadata_ml.mfs.back.1"), 18510)
    write_changelog(str(tmp_path / "changelog_ml.0.mfs"), range(17763, 17800))
    found = ins.inspect(str(tmp_path))
    assert found.version == 17800 and found.best.name == "metadata_ml.mfs.back"
    assert (Repair.SET_ASIDE, "metadata_ml.mfs.back.1") in kinds(found)


def test_maxidhole_prefix_below_image_is_cut(tmp_path):
    # The "bad demotion": an old changelog_ml.0.mfs, then new ids appended after a jump.
    write_image(str(tmp_path / "metadata_ml.mfs.back"), 16022)
    write_changelog(str(tmp_path / "changelog_ml.0.mfs"),
                    list(range(1, 4105)) + list(range(16022, 16199)))
    found = ins.inspect(str(tmp_path), thorough=True)
    assert (found.verdict, found.version) == (ins.RESTORABLE, 16199)
    assert (Repair.CUT_PREFIX, "changelog_ml.0.mfs") in kinds(found)


def test_maxidhole_with_needed_prefix_is_a_hole(tmp_path):
    write_image(str(tmp_path / "metadata_ml.mfs.back"), 1)
    write_changelog(str(tmp_path / "changelog_ml.0.mfs"),
                    list(range(1, 4105)) + list(range(16022, 16199)))
    found = ins.inspect(str(tmp_path), thorough=True)
    assert found.verdict == ins.HOLE and found.version == 4105


def test_newer_truncated_image_is_incomplete(tmp_path):
    write_image(str(tmp_path / "metadata_ml.mfs.back"), 100)
    write_changelog(str(tmp_path / "changelog_ml.0.mfs"), range(100, 120))
    write_image(str(tmp_path / "metadata_ml.tmp"), 500, complete=False)
    found = ins.inspect(str(tmp_path))
    assert found.verdict == ins.INCOMPLETE and "metadata_ml.tmp" in found.reason


def test_only_truncated_image(tmp_path):
    write_image(str(tmp_path / "metadata_ml.tmp"), 500, complete=False)
    assert ins.inspect(str(tmp_path)).verdict == ins.INCOMPLETE


def test_file_unreadable_by_working_user_needs_chown(tmp_path):
    ml_dir(tmp_path)
    os.chmod(tmp_path / "metadata_ml.mfs.back", 0o600)
    os.chown(tmp_path / "metadata_ml.mfs.back", 0, 0)
    found = ins.inspect(str(tmp_path), owner=Owner("mfs"))
    assert (Repair.CHOWN, "metadata_ml.mfs.back") in kinds(found)


def test_foreign_metadata_name_is_set_aside(tmp_path):
    ml_dir(tmp_path)
    write_image(str(tmp_path / "metadata_copy_by_hand"), 99999)
    found = ins.inspect(str(tmp_path))
    assert found.version == 16803
    assert (Repair.SET_ASIDE, "metadata_copy_by_hand") in kinds(found)


def test_big_image_is_inspected_by_head_and_tail(tmp_path):
    path = tmp_path / "metadata_ml.mfs.back"
    write_image(str(path), 42, body=0, complete=False)
    with open(path, "ab") as stream:
        stream.truncate(3 << 30)  # sparse 3 GiB
        stream.seek(0, 2)
        stream.write(b"[MFS EOF MARKER]")
    import time
    started = time.monotonic()
    found = ins.inspect(str(tmp_path))
    assert found.version == 42 and found.verdict == ins.RESTORABLE
    assert time.monotonic() - started < 5  # a sanity bound, not a benchmark (bench/ has those)


def test_operator_command_line(tmp_path, capsys):
    from moosefs.__main__ import main
    ml_dir(tmp_path)
    write_image(str(tmp_path / "metadata_ml.mfs.back.1"), 99999)
    assert main(["moosefs", "inspect", str(tmp_path), "--thorough"]) == 0
    out = capsys.readouterr().out
    assert "verdict: restorable" in out and "version: 16803" in out
    assert "restore would set-aside metadata_ml.mfs.back.1" in out
    assert main(["moosefs", "inspect", str(tmp_path / "missing")]) == 1


def test_operator_command_line_states_the_history_chosen_and_why(tmp_path, capsys):
    from moosefs.__main__ import main
    ml_dir(tmp_path)
    write_image(str(tmp_path / "metadata.mfs"), 21307)
    assert main(["moosefs", "inspect", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "verdict: undecided" in out and "cluster knowledge: none given" in out
    assert main(["moosefs", "inspect", str(tmp_path), "--known", "16800"]) == 0
    out = capsys.readouterr().out
    assert "history used: metalogger (the cluster's last master (version 16800) was another " \
           "node" in out and "restore would set-aside metadata.mfs:" in out
    assert main(["moosefs", "inspect", str(tmp_path), "--known", "21000",
                 "--last-master-here"]) == 0
    assert "history used: master (this node was the cluster's last master" in \
        capsys.readouterr().out
    with pytest.raises(SystemExit) as usage:
        main(["moosefs", "inspect", str(tmp_path), "--known", "x"])
    assert usage.value.code == 2
    assert main(["moosefs", "inspect", str(tmp_path), "--known", "16800", "--json"]) == 0
    import json
    found = json.loads(capsys.readouterr().out)
    assert found["verdict"] == "restorable" and found["history_used"] == "metalogger"
    assert found["cluster_knowledge"]["version"] == 16800


def test_backward_jump_keeps_the_part_mfsmaster_reads(tmp_path):
    # A jump back to older ids: mfsmaster reads up to it and ignores the rest.
    write_image(str(tmp_path / "metadata_ml.mfs.back"), 5050)
    write_changelog(str(tmp_path / "changelog_ml.0.mfs"),
                    list(range(5000, 5101)) + list(range(3000, 3011)))
    found = ins.inspect(str(tmp_path), thorough=True)
    assert (found.verdict, found.version) == (ins.RESTORABLE, 5101)
    assert not any(r.kind == Repair.CUT_PREFIX for r in found.repairs)


def test_changes_below_the_image_with_a_gap_after_them_are_cut(tmp_path):
    """The layout a metalogger left in the namespace cluster after a failover; raw
    mfsmaster -a refused it ("hole in change files 1698 to 2198")."""
    write_image(str(tmp_path / "metadata_ml.mfs.back"), 2199)
    write_changelog(str(tmp_path / "changelog_ml_back.0.mfs"), range(2199, 2259))
    write_changelog(str(tmp_path / "changelog_ml_back.1.mfs"), [])
    write_changelog(str(tmp_path / "changelog_ml.0.mfs"),
                    list(range(1562, 1698)) + list(range(2259, 2383)))
    write_changelog(str(tmp_path / "changelog_ml_back.2.mfs"), range(1400, 1500))
    found = ins.inspect(str(tmp_path), thorough=True)
    assert (found.verdict, found.version) == (ins.RESTORABLE, 2383)
    cut = [r for r in found.repairs if r.kind == Repair.CUT_PREFIX]
    assert [r.name for r in cut] == ["changelog_ml.0.mfs"]
    assert cut[0].offset == sum(len(b"%d: 1795604984|ACCESS(1)\n" % i) for i in range(1562, 1698))
    assert not any(r.name == "changelog_ml_back.2.mfs" for r in found.repairs)  # skipped by
    # mfsmaster: its last change is below the image
    assert ins.inspect(str(tmp_path)).version == 2383  # fast reading: same version


def test_changes_below_the_image_that_reach_it_are_left_alone(tmp_path):
    write_image(str(tmp_path / "metadata_ml.mfs.back"), 2199)
    write_changelog(str(tmp_path / "changelog_ml.0.mfs"),
                    list(range(1562, 1698)) + list(range(2100, 2383)))
    found = ins.inspect(str(tmp_path), thorough=True)
    assert (found.verdict, found.version, found.repairs) == (ins.RESTORABLE, 2383, [])


def test_the_change_below_the_image_in_a_file_mfsmaster_skips_does_not_count(tmp_path):
    """A file whose last change is below the image is not read at all: its 275 cannot
    close the gap in the next file (seen with real daemons)."""
    write_image(str(tmp_path / "metadata_ml.mfs.back"), 276)
    write_changelog(str(tmp_path / "changelog_ml_back.0.mfs"), range(1, 276))
    write_changelog(str(tmp_path / "changelog_ml.0.mfs"), list(range(1, 31)) + list(range(276, 538)))
    found = ins.inspect(str(tmp_path), thorough=True)
    assert found.version == 538
    assert [(r.kind, r.name) for r in found.repairs] == [(Repair.CUT_PREFIX, "changelog_ml.0.mfs")]


def test_the_time_of_the_newest_change_is_read_from_the_last_line(tmp_path):
    ml_dir(tmp_path)  # synthetic lines carry the time 1795604984
    assert ins.inspect(str(tmp_path)).newest_stamp == 1795604984
    write_image(str(tmp_path / "metadata_ml.mfs.back"), 20000)  # nothing reaches past it
    assert ins.inspect(str(tmp_path)).newest_stamp == 0
