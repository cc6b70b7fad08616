import os

from moosefs import files
from tests.synthetic import METAID, write_changelog, write_image


def test_image_header_version_id_and_marker(tmp_path):
    image = files.read_image(write_image(str(tmp_path / "metadata_ml.mfs.back"), 16294))
    assert (image.signature, image.version, image.metaid, image.complete) == \
        ("MFSM 2.0", 16294, METAID, True)
    assert image.valid


def test_truncated_image_is_invalid(tmp_path):
    image = files.read_image(write_image(str(tmp_path / "metadata_ml.tmp"), 500, complete=False))
    assert image.version == 500 and not image.complete and not image.valid


def test_new_signature_is_version_one(tmp_path):
    image = files.read_image(write_image(str(tmp_path / "metadata.mfs"), 0, signature=b"MFSM NEW"))
    assert (image.version, image.metaid, image.valid) == (1, 0, True)


def test_old_format_reads_version_after_node_id(tmp_path):
    path = tmp_path / "metadata.mfs.back"
    path.write_bytes(b"MFSM 1.6" + (7).to_bytes(4, "big") + (4105).to_bytes(8, "big") + b"\0" * 40
                     + files.EOF_MARKER)
    image = files.read_image(str(path))
    assert (image.version, image.metaid, image.valid) == (4105, 0, True)


def test_garbage_signature_is_invalid(tmp_path):
    path = tmp_path / "metadata_whatever"
    path.write_bytes(b"NOTMOOSE" * 10)
    assert not files.read_image(str(path)).valid


def test_changelog_first_last_and_partial_tail(tmp_path):
    path = write_changelog(str(tmp_path / "changelog_ml.0.mfs"), range(100, 201),
                           partial=b"201: 17956051")
    log = files.read_changelog(path)
    assert (log.first, log.last, log.partial_tail) == (100, 200, 13)
    assert not log.usable


def test_changelog_thorough_finds_segments_and_maxidhole(tmp_path):
    ids = list(range(1, 4105)) + list(range(16022, 16199))
    log = files.read_changelog(write_changelog(str(tmp_path / "changelog_ml.0.mfs"), ids),
                               thorough=True)
    assert log.segments == [(1, 4104), (16022, 16198)]
    assert log.garbage_at == 16022
    assert log.garbage_offset == os.path.getsize(tmp_path / "changelog_ml.0.mfs") - sum(
        len(b"%d: 1795604984|ACCESS(1)\n" % i) for i in range(16022, 16199))


def test_small_gap_is_a_segment_but_not_garbage(tmp_path):
    ids = list(range(1, 1895)) + list(range(1933, 2000))
    log = files.read_changelog(write_changelog(str(tmp_path / "changelog_ml.0.mfs"), ids),
                               thorough=True)
    assert log.segments == [(1, 1894), (1933, 1999)] and log.garbage_at is None


def test_empty_changelog(tmp_path):
    log = files.read_changelog(write_changelog(str(tmp_path / "changelog_ml_back.1.mfs"), []))
    assert (log.first, log.last, log.usable) == (0, 0, False)


def test_long_last_line_is_found(tmp_path):
    path = tmp_path / "changelog.0.mfs"
    path.write_bytes(b"5: x\n6: " + b"y" * 200000 + b"\n")
    log = files.read_changelog(str(path))
    assert (log.first, log.last, log.partial_tail) == (5, 6, 0)


def test_long_first_line_is_read_as_mfsmaster_reads_it(tmp_path):
    path = tmp_path / "changelog_ml.1.mfs"
    path.write_bytes(b"7: 1795604984|SETXATTR(1," + b"v" * 200000 + b")\n8: x\n")
    log = files.read_changelog(str(path))
    assert (log.first, log.last, log.usable) == (7, 8, True)
    only = tmp_path / "changelog_ml.2.mfs"
    only.write_bytes(b"9: " + b"w" * 200000 + b"\n")
    assert (files.read_changelog(str(only)).first, files.read_changelog(str(only)).last) == (9, 9)


def test_single_partial_line_is_not_usable(tmp_path):
    path = tmp_path / "changelog_ml.0.mfs"
    path.write_bytes(b"9: " + b"w" * 10000)
    log = files.read_changelog(str(path))
    assert (log.first, log.usable) == (0, False)
