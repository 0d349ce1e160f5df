"""`vzgitops run` fails closed on state files it cannot read: it applies nothing, says why in
its status, and goes on once a person has fixed or removed the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.controller.harness import Controllers, Remote, conf_value
from tests.support import container_doc

FAST = ["--interval", "0.3", "--drift-interval", "1", "--log-format", "json"]


def applied(sha: str) -> Any:
    return lambda s: (s.get("applied") or {}).get("sha") == sha and s.get("converged") and s


def held(sha: str) -> Any:
    return lambda s: (
        (s.get("pending") or {}).get("kind") == "held" and (s["pending"]["sha"] == sha and s)
    )


def test_an_unreadable_last_applied_holds_a_force_pushed_tip_until_it_is_fixed(
    controllers: Controllers, remote: Remote, conf_dir: Path
) -> None:
    first = remote.commit({"web.yaml": container_doc("web", 101, cpus=1)}, "web: 1 cpu")
    run = controllers.start(["--repo", remote.url, *FAST])
    run.wait(applied(first), "the first commit applied")
    assert run.stop() == 0
    last_applied = run.state / "last-applied.json"
    last_applied.write_text("{ not json", encoding="utf-8")
    remote.work.write("web.yaml", container_doc("web", 101, cpus=2))
    remote.work.git("add", "-A")
    remote.work.git("commit", "-q", "--amend", "-m", "web: 2 cpus, rewritten")
    rewritten = remote.work.git("rev-parse", "HEAD")
    remote.push(force=True)
    again = controllers.start(["--repo", remote.url, *FAST])
    status = again.wait(held(rewritten), "the rewritten tip held")
    assert f"{last_applied} cannot be read" in status["pending"]["reason"]
    assert "history rewrite cannot be ruled out" in status["pending"]["reason"]
    assert conf_value(conf_dir, 101, "CPUS") == "1"
    last_applied.unlink()  # a person decides: apply what the branch says now
    again.wait(applied(rewritten), "the tip applied once the file was removed")
    assert conf_value(conf_dir, 101, "CPUS") == "2"
    assert again.stop() == 0


def test_an_unreadable_inventory_applies_nothing_and_is_reported(
    controllers: Controllers, remote: Remote, conf_dir: Path
) -> None:
    first = remote.commit({"web.yaml": container_doc("web", 101, cpus=1)}, "web: 1 cpu")
    run = controllers.start(["--repo", remote.url, *FAST])
    run.wait(applied(first), "the first commit applied")
    inventory = run.state / "inventory.json"
    inventory.write_text("[]", encoding="utf-8")
    remote.commit({"web.yaml": container_doc("web", 101, cpus=2)}, "web: 2 cpus")
    status = run.wait(
        lambda s: (s.get("last_error") or {}).get("message", "").count(str(inventory)) and s,
        "the unreadable inventory reported",
    )
    assert "is not what vzgitops wrote" in status["last_error"]["message"]
    assert status["applied"]["sha"] == first
    assert conf_value(conf_dir, 101, "CPUS") == "1"
    assert inventory.read_text(encoding="utf-8") == "[]"
    assert run.stop() == 0
