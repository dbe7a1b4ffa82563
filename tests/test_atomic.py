import pytest

from skeletonllm.atomic import atomic_directory, atomic_write_text


def test_atomic_write_replaces_whole_file(tmp_path):
    p = tmp_path / "a" / "f.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert [x.name for x in p.parent.iterdir()] == ["f.txt"]


def test_atomic_directory_failure_leaves_old_contents(tmp_path):
    d = tmp_path / "ckpt"
    with atomic_directory(d) as tmp:
        (tmp / "w.bin").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_directory(d) as tmp:
            (tmp / "w.bin").write_bytes(b"new-partial")
            raise RuntimeError("killed mid-write")
    assert (d / "w.bin").read_bytes() == b"old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["ckpt"]
    with atomic_directory(d) as tmp:
        (tmp / "w.bin").write_bytes(b"new")
    assert (d / "w.bin").read_bytes() == b"new"


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    import os
    import stat
    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "f.txt", "x")
        with atomic_directory(tmp_path / "d") as tmp:
            (tmp / "w").write_text("x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755
