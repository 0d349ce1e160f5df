"""Moves in plans (pure): the source holds, the destination awaits, `pair` joins them."""

from __future__ import annotations

from reconciler.plan import Change, Command, Held, Plan
from reconciler.plan.moves import AWAITING, Destination, await_arrivals, held_out, pair

SERVER = Destination("10.0.0.2", 2222, "root")


def _create(ctid: int, name: str) -> Change:
    argv = ("create", str(ctid), "--ostemplate", "debian-12.0-x86_64-minimal")
    return Change(ctid=ctid, name=name, action="create", commands=(Command(argv=argv),), reason="")


def _plans(dest_held: Held | None = None) -> dict[str, Plan]:
    laptop = Plan(node="laptop", held=(held_out(101, "web", "laptop", "server"),))
    server = Plan(node="server", changes=(_create(101, "web"),))
    server = await_arrivals(server, {101: "laptop"})
    if dest_held is not None:
        server = Plan(node="server", held=(dest_held,))
    return {"laptop": laptop, "server": server}


def test_the_destination_never_creates_an_arriving_container() -> None:
    server = await_arrivals(
        Plan(node="server", changes=(_create(101, "web"), _create(102, "db"))), {101: "laptop"}
    )
    assert [c.ctid for c in server.changes] == [102]
    (held,) = server.held
    assert held.kind == "moving" and held.reason.startswith(f"{AWAITING} laptop")


def test_pair_turns_the_hold_into_one_vzmigrate_on_the_source() -> None:
    paired = pair(
        _plans(), {101: "server"}, {"server": SERVER}, {"laptop": frozenset()}, frozenset(), {}
    )
    (move,) = paired.moves["laptop"]
    assert move.action == "move" and move.confirmed_first and not move.destructive
    (command,) = move.commands
    assert command.tool == "vzmigrate"
    assert command.argv == ("--ssh-mux", "--ssh=-p 2222", "-r", "yes", "root@10.0.0.2", "101")
    assert paired.plans["laptop"].held == ()
    assert (
        paired.plans["laptop"].summary()
        == "Plan: 0 to create, 0 to change, 0 to destroy, 1 to move."
    )
    assert [h.kind for h in paired.plans["server"].held] == ["moving"]


def test_online_only_when_asked_and_running() -> None:
    asked = frozenset({101})
    running = pair(_plans(), {101: "server"}, {"server": SERVER}, {"laptop": asked}, asked, {})
    stopped = pair(
        _plans(), {101: "server"}, {"server": SERVER}, {"laptop": frozenset()}, asked, {}
    )
    assert running.moves["laptop"][0].commands[0].argv[0] == "--online"
    assert stopped.moves["laptop"][0].commands[0].argv[0] != "--online"


def test_a_move_waits_for_its_window_the_destinations_reason_and_an_ssh_address() -> None:
    closed = {101: "outside its maintenance window; next window at 2026-12-05T02:00+00:00"}
    windowed = pair(_plans(), {101: "server"}, {"server": SERVER}, {}, frozenset(), closed)
    assert windowed.moves == {}
    assert "move: outside its maintenance window" in windowed.plans["laptop"].held[0].reason
    refused = Held(ctid=101, name="web", kind="preflight", reason="not enough RAM")
    blocked = pair(_plans(refused), {101: "server"}, {"server": SERVER}, {}, frozenset(), {})
    assert blocked.moves == {}
    assert "on server, not enough RAM" in blocked.plans["laptop"].held[0].reason
    unaddressed = pair(_plans(), {101: "server"}, {"server": None}, {}, frozenset(), {})
    assert "has no ssh address" in unaddressed.plans["laptop"].held[0].reason


def test_a_destination_not_planned_moves_alone_or_leaves_the_hold() -> None:
    plans = {"laptop": _plans()["laptop"]}
    alone = pair(plans, {101: "server"}, {"server": SERVER}, {}, frozenset(), {})
    assert [c.action for c in alone.moves["laptop"]] == ["move"]  # a per-node agent moves it
    held = pair(plans, {101: "server"}, {"server": SERVER}, {}, frozenset(), {}, alone=False)
    assert held.moves == {} and held.plans == plans
